package pgtest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
)

var pg Lazy

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// Each test gets a database of its own.
func TestDatabasesAreFreshPerTest(t *testing.T) {
	srv := pg.Require(t)
	var name string
	t.Run("use", func(t *testing.T) {
		u, err := url.Parse(pg.Database(t))
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
		out, err := srv.SQL(context.Background(), name, "CREATE TABLE t (x int); INSERT INTO t VALUES (41); SELECT x + 1 FROM t")
		if err != nil || out != "42" {
			t.Fatalf("query: %q, %v", out, err)
		}
	})
	other, err := url.Parse(pg.Database(t))
	if err != nil || strings.TrimPrefix(other.Path, "/") == name {
		t.Fatalf("a second test got the database %s again (%v)", name, err)
	}
	if out, err := srv.SQL(context.Background(), strings.TrimPrefix(other.Path, "/"), "SELECT count(*) FROM pg_tables WHERE tablename = 't'"); err != nil || out != "0" {
		t.Fatalf("the second database is not empty: %q, %v", out, err)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{"Test/Contract-1": "test_contract_1", "1x": "db_1x", "": "db_"} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
