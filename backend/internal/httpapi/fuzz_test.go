package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// FuzzRequestID: a client's X-Request-ID is echoed only when it is at most
// 128 visible ASCII characters; anything else is replaced by a fresh UUID,
// so logs never carry a client's control characters or megabytes.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"abc-123", "", "with space", "tab\there", "é", "x\r\nSet-Cookie: a=b", string(make([]byte, 200))} {
		f.Add(s)
	}
	e := gin.New()
	e.Use(RequestID())
	e.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	f.Fuzz(func(t *testing.T, id string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header["X-Request-Id"] = []string{id}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		got := rec.Header().Get(RequestIDHeader)
		if saneRequestID(id) {
			if got != id {
				t.Fatalf("a sane id %q came back as %q", id, got)
			}
			for i := 0; i < len(id); i++ {
				if id[i] < 0x21 || id[i] > 0x7e {
					t.Fatalf("%q accepted with byte %#x", id, id[i])
				}
			}
			if len(id) > 128 {
				t.Fatalf("an id of %d bytes accepted", len(id))
			}
			return
		}
		if _, err := uuid.Parse(got); err != nil {
			t.Fatalf("%q was replaced by %q, not a UUID", id, got)
		}
	})
}
