package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/duckgate/duckgate/shared/api"
)

const stubSecret = "dg_0123456789abcdefghijABCDEFGHIJ0123456789abc"

// stubIntegrators serves the stub backend's API keys and usage.
func stubIntegrators(mux *http.ServeMux) {
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	problem := func(w http.ResponseWriter, p api.Problem) {
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(p.Status)
		_ = json.NewEncoder(w).Encode(p)
	}
	mux.HandleFunc("GET /users/me/api-keys", func(w http.ResponseWriter, r *http.Request) {
		used := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
		writeJSON(w, api.APIKeyList{Total: 1, Items: []api.APIKey{{ID: "k1", Name: "ci <script>", Prefix: "dg_01234567",
			Scopes: []string{"ai", "read"}, LastUsedAt: &used, LastUsedIP: "192.0.2.9"}}})
	})
	mux.HandleFunc("POST /users/me/api-keys", func(w http.ResponseWriter, r *http.Request) {
		var in api.APIKeyRequest
		_ = json.NewDecoder(r.Body).Decode(&in)
		if len(in.Scopes) == 0 {
			problem(w, api.Problem{Status: 422, Title: "Unprocessable Entity", Detail: "the request has invalid fields",
				Errors: []api.FieldError{{Field: "scopes", Message: "name at least one of: ai, read"}}})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(api.NewAPIKey{APIKey: api.APIKey{ID: "k2", Name: in.Name, Prefix: stubSecret[:11], Scopes: in.Scopes,
			ExpiresAt: in.ExpiresAt}, Secret: stubSecret})
	})
	mux.HandleFunc("GET /users/me/usage", func(w http.ResponseWriter, r *http.Request) {
		limit := 10.0
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		writeJSON(w, api.UserUsage{From: from, To: from.AddDate(0, 0, 3), Requests: 5, PromptTokens: 50, CompletionTokens: 70, Cost: 2.5,
			ByDay:   []api.UsageGroup{{Key: "2026-01-01", Requests: 2, Cost: 0.5}, {Key: "2026-01-03", Requests: 3, Cost: 2}},
			ByModel: []api.UsageGroup{{Key: "openai/gpt-4o-mini", Requests: 5, Cost: 2.5}},
			Budget:  api.Budget{LimitUSD: &limit, SpentUSD: 2.5, ResetsAt: from.AddDate(0, 1, 0)}})
	})
}

func TestProfileListsAPIKeysAndShowsANewSecretOnce(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := signedIn(t, fe.URL)
	_, page := get(t, c, fe.URL+"/profile")
	if !strings.Contains(page, "<code>dg_01234567…</code>") || !strings.Contains(page, "ci &lt;script&gt;") ||
		!strings.Contains(page, "ai, read") || !strings.Contains(page, "from 192.0.2.9") || strings.Contains(page, stubSecret) {
		t.Fatalf("the keys table: %.3000s", page)
	}
	token := csrfMeta.FindStringSubmatch(page)[1]
	resp, page := postForm(t, c, fe.URL+"/profile/api-keys", url.Values{"csrf_token": {token}, "key_name": {"deploy"},
		"key_scopes": {"ai"}, "key_expires": {"30"}})
	if resp.StatusCode != 200 || !strings.Contains(page, `<code id="new-key-secret">`+stubSecret+`</code>`) ||
		!strings.Contains(page, `data-copy="new-key-secret"`) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("after creating a key: %d %q %.2000s", resp.StatusCode, resp.Header.Get("Cache-Control"), page)
	}
	if _, again := get(t, c, fe.URL+"/profile"); strings.Contains(again, stubSecret) {
		t.Fatal("the secret is shown a second time")
	}
	resp, page = postForm(t, c, fe.URL+"/profile/api-keys", url.Values{"csrf_token": {token}, "key_name": {"x"}})
	if resp.StatusCode != 422 || !strings.Contains(page, "Name at least one of: ai, read.") {
		t.Fatalf("a key without scopes: %d %.2000s", resp.StatusCode, page)
	}
	resp, _ = postForm(t, c, fe.URL+"/profile/api-keys", url.Values{"key_name": {"x"}, "key_scopes": {"ai"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a key created without the CSRF token: %d", resp.StatusCode)
	}
}

func TestUsagePageChartsSpendByDay(t *testing.T) {
	fe := startFrontend(t, startStubBackend(t).URL)
	c := signedIn(t, fe.URL)
	resp, page := get(t, c, fe.URL+"/usage")
	if resp.StatusCode != 200 {
		t.Fatalf("/usage: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`<svg id="usage-chart"`, `viewBox="0 0 30 100"`, // three days, one without use
		`<rect x="1" y="78" width="8" height="22"><title>2026-01-01: $0.50, 2 requests`,
		`<rect x="11" y="100" width="8" height="0">`,
		`<rect x="21" y="10" width="8" height="90"><title>2026-01-03: $2.00`,
		`$2.50 <small>of $10.00</small>`, `<rect width="25" height="10">`, "openai/gpt-4o-mini",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/usage lacks %q", want)
		}
	}
	if strings.Contains(page, "style=") || strings.Contains(page, "<script>") {
		t.Error("/usage has inline styles or scripts")
	}
}

func TestUSDFormatting(t *testing.T) {
	for v, want := range map[float64]string{0: "$0.00", 2.5: "$2.50", 0.000021: "$0.000021", 12.3456789: "$12.345679"} {
		if got := usd(v); got != want {
			t.Errorf("usd(%v) = %q, want %q", v, got, want)
		}
	}
}
