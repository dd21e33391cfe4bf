package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/duckgate/duckgate/shared/api"
)

func TestWriteSendsAProblemDetail(t *testing.T) {
	for _, tc := range []struct {
		status int
		typ    string
		title  string
		detail string
		reqID  string
	}{
		{status: 404, typ: api.TypeNotFound, title: "Not Found", detail: "There is no API at this address.", reqID: "r1"},
		{status: 403, typ: api.TypeForbidden, title: "Forbidden", detail: "Reload the page and try again."},
		{status: 502, typ: api.TypeUpstream, title: "Bad Gateway", detail: "The service is unreachable right now."},
		{status: 500, typ: api.TypeInternal, title: "Internal Server Error"},
		{status: 599, typ: api.TypeInternal, title: "Error"},
	} {
		w := httptest.NewRecorder()
		w.Header().Set("Content-Length", "12")
		Write(w, New(tc.status, tc.detail, tc.reqID))
		if w.Code != tc.status || w.Header().Get("Content-Type") != api.ProblemContentType ||
			w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Length") != "" {
			t.Errorf("%d: status %d, headers %v", tc.status, w.Code, w.Header())
		}
		var got api.Problem
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("%d: body %q: %v", tc.status, w.Body, err)
		}
		want := api.Problem{Type: tc.typ, Title: tc.title, Status: tc.status, Detail: tc.detail, RequestID: tc.reqID}
		if got.Type != want.Type || got.Title != want.Title || got.Status != want.Status || got.Detail != want.Detail || got.RequestID != want.RequestID {
			t.Errorf("%d: got %+v, want %+v", tc.status, got, want)
		}
	}
	if TypeFor(http.StatusTooManyRequests) != api.TypeRateLimited || TypeFor(http.StatusUnprocessableEntity) != api.TypeValidation {
		t.Error("TypeFor disagrees with the backend's types")
	}
}
