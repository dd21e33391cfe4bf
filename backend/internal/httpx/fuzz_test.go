package httpx

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/duckgate/duckgate/backend/internal/model"
)

type fuzzBody struct {
	Email    string            `json:"email"`
	Count    int               `json:"count"`
	Ratio    *float64          `json:"ratio"`
	Tags     []string          `json:"tags"`
	Extra    map[string]string `json:"extra"`
	Nested   struct{ On bool } `json:"nested"`
	Optional *string           `json:"optional"`
}

// FuzzDecodeJSON: a body is accepted only if it is exactly one JSON value
// (json.Valid, nothing after it), what was decoded survives a round trip,
// and every refusal is a client error with a message (never a fault).
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.c","count":2,"tags":["x"]}`, `{}`, ``, `{"email": 42}`, `[1]`,
		`{"a":1} {"b":2}`, `{"email":"a"} x`, `{"count":1e400}`, `{"ratio":null}`, `{"email":"\ud800"}`, "{\"email\":\"a\"}\n\t "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var got fuzzBody
		err := DecodeJSON(strings.NewReader(body), &got)
		if err != nil {
			var bad *BadRequestError
			if !errors.As(err, &bad) || bad.Detail == "" {
				t.Fatalf("%q: refused with %T %v, want a BadRequestError with a detail", body, err, err)
			}
			return
		}
		if !json.Valid([]byte(body)) {
			t.Fatalf("%q: accepted but not exactly one JSON value", body)
		}
		re, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var again fuzzBody
		if err := DecodeJSON(strings.NewReader(string(re)), &again); err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%q: decoded %+v, but its own encoding decodes to %+v (%v)", body, got, again, err)
		}
	})
}

// FuzzParsePaging: accepted paging is within bounds; a refusal names
// exactly the bad parameters.
func FuzzParsePaging(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"10", "5"}, {"0", "0"}, {"201", "-1"}, {"x", "1e3"}, {"99999999999999999999", ""}, {" 5", "+3"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, rawLimit, rawOffset string) {
		limit, offset, err := ParsePaging(rawLimit, rawOffset, 50, 200)
		if err == nil {
			if limit < 1 || limit > 200 || offset < 0 || (rawLimit == "" && limit != 50) || (rawOffset == "" && offset != 0) {
				t.Fatalf("(%q, %q) gave limit %d offset %d", rawLimit, rawOffset, limit, offset)
			}
			return
		}
		var v *model.ValidationError
		if !errors.As(err, &v) || len(v.Fields) == 0 {
			t.Fatalf("(%q, %q): %v is not a validation error", rawLimit, rawOffset, err)
		}
		for _, fe := range v.Fields {
			raw := map[string]string{"limit": rawLimit, "offset": rawOffset}[fe.Field]
			if n, convErr := strconv.Atoi(raw); raw == "" || (convErr == nil && ((fe.Field == "limit" && n >= 1 && n <= 200) || (fe.Field == "offset" && n >= 0))) {
				t.Fatalf("(%q, %q): %s refused though it is fine", rawLimit, rawOffset, fe.Field)
			}
		}
	})
}
