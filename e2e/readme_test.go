package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestREADMEConfigurationMatchesTheBinaries keeps the README's configuration
// tables true: every variable the binaries read is listed with its default,
// and the README lists none they do not read.
func TestREADMEConfigurationMatchesTheBinaries(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	row := regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]+)` \\| ([^|]+) \\|")
	listed := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(readme, -1) {
		listed[m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`")
	}
	known := map[string]bool{}
	for _, binary := range []string{"backend", "frontend"} {
		for name, v := range binaryVars(t, binary) {
			known[name] = true
			def, ok := listed[name]
			switch {
			case !ok:
				t.Errorf("README does not list %s (read by the %s)", name, binary)
			case v.Default == "" && def != "unset":
				t.Errorf("README gives %s the default %q; the %s has none", name, def, binary)
			case v.Default != "" && def != v.Default:
				t.Errorf("README gives %s the default %q; the %s uses %q", name, def, binary, v.Default)
			}
		}
	}
	for name := range listed {
		if !known[name] {
			t.Errorf("README lists %s, which neither binary reads", name)
		}
	}
}
