package web

import (
	"regexp"
	"strings"
)

// deviceName names the device of a session for a person, from its user
// agent: "Chrome on Linux", "Safari on iPhone", "curl". The raw string is
// shown on hover; what is not recognised is named by its first word.
func deviceName(ua string) string {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return "Unknown device"
	}
	lower := strings.ToLower(ua)
	for _, p := range programs {
		if strings.HasPrefix(lower, p.prefix) {
			return p.name
		}
	}
	browser := ""
	for _, b := range browsers {
		if b.re.MatchString(ua) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, s := range systems {
		if strings.Contains(ua, s.token) {
			system = s.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "A browser on " + system
	}
	first, _, _ := strings.Cut(ua, " ")
	first, _, _ = strings.Cut(first, "/")
	if len(first) > 40 {
		first = first[:40] + "…"
	}
	return first
}

// programs are clients that are not browsers, by the start of their user
// agent (lower case).
var programs = []struct{ prefix, name string }{
	{"curl/", "curl"},
	{"duckgate-go-client", "The duckgate Go client"},
	{"wget/", "Wget"},
	{"python-requests/", "Python (requests)"},
	{"python-urllib/", "Python"},
	{"python-httpx/", "Python (httpx)"},
	{"go-http-client/", "A Go program"},
	{"okhttp/", "An Android app (OkHttp)"},
	{"postmanruntime/", "Postman"},
	{"insomnia/", "Insomnia"},
	{"node-fetch", "A Node.js program"},
	{"undici", "A Node.js program"},
	{"axios/", "A Node.js program"},
	{"httpie/", "HTTPie"},
}

// browsers in the order their tokens must be tested: Edge and Opera also
// say Chrome, Chrome also says Safari.
var browsers = []struct {
	re   *regexp.Regexp
	name string
}{
	{regexp.MustCompile(`HeadlessChrome/`), "Headless Chrome"},
	{regexp.MustCompile(`Edg(e|A|iOS)?/`), "Edge"},
	{regexp.MustCompile(`(OPR|Opera)/`), "Opera"},
	{regexp.MustCompile(`SamsungBrowser/`), "Samsung Internet"},
	{regexp.MustCompile(`(Firefox|FxiOS)/`), "Firefox"},
	{regexp.MustCompile(`(Chrome|CriOS)/`), "Chrome"},
	{regexp.MustCompile(`Version/[\d.]+.*Safari/`), "Safari"},
}

// systems in the order their tokens must be tested: Android also says
// Linux, iPhones say "like Mac OS X".
var systems = []struct{ token, name string }{
	{"Android", "Android"},
	{"iPhone", "iPhone"},
	{"iPad", "iPad"},
	{"CrOS", "ChromeOS"},
	{"Windows", "Windows"},
	{"Mac OS X", "macOS"},
	{"Macintosh", "macOS"},
	{"Linux", "Linux"},
}
