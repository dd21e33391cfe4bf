package web

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// resolveLikeBrowser resolves a Location header value against the page's
// URL as the URL standard has a browser do it for an http(s) URL: leading
// and trailing C0 controls and spaces are trimmed, tabs and newlines are
// removed wherever they are, and a backslash counts as a slash.
func resolveLikeBrowser(base *url.URL, location string) (*url.URL, error) {
	location = strings.TrimFunc(location, func(r rune) bool { return r <= 0x20 })
	location = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, location)
	ref, err := url.Parse(location)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}

// plainPath is a next that needs no checking: it must come back unchanged
// (up to the length limit).
var plainPath = regexp.MustCompile(`^/([A-Za-z0-9_.~-][A-Za-z0-9/_.~=&?-]*)?$`)

// FuzzSafeNext: whatever next a link carries, the page a browser lands on
// after sign-in is on this site, and plain paths of this site are kept.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{
		"/chat", "/admin/users?q=a", "//evil.example", "/\\evil", "/\t/evil.example", "/\r/", "/\n/\n/evil",
		"https://evil.example", "/%2F/evil", "/%09/evil", "\t//evil", "/\x00", "/caf\u00e9", "/a#//evil", "///evil",
		"/.//evil", "/\u2028/evil", "/@evil.example", "/:@evil", "/?next=//evil",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://duckgate.example/login?next=x")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		landed, err := resolveLikeBrowser(base, got)
		if err != nil {
			t.Fatalf("safeNext(%q) = %q, which does not parse: %v", next, got, err)
		}
		if landed.Scheme != base.Scheme || landed.Host != base.Host || landed.User != nil {
			t.Fatalf("safeNext(%q) = %q leads a browser to %s", next, got, landed)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") {
			t.Fatalf("safeNext(%q) = %q is not a path of this site", next, got)
		}
		if again := safeNext(got); again != got {
			t.Fatalf("safeNext is not stable: %q -> %q -> %q", next, got, again)
		}
		if plainPath.MatchString(next) && len(next) <= maxNextLength && got != next {
			t.Fatalf("safeNext(%q) = %q, want the plain path kept", next, got)
		}
	})
}
