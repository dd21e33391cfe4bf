package migration

import (
	"testing"
	"testing/fstest"
)

func TestReadOrdersByVersionAndRefusesOtherNames(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/0010_later.sql": {Data: []byte("B")},
		"migrations/0002_first.sql": {Data: []byte("A")},
	}
	ms, err := Read(fsys)
	if err != nil || len(ms) != 2 || ms[0].Version != 2 || ms[0].Name != "first" || ms[0].SQL != "A" || ms[1].Version != 10 {
		t.Fatalf("Read: %+v, %v", ms, err)
	}
	if Latest(fsys) != 10 {
		t.Fatalf("Latest: %d", Latest(fsys))
	}
	fsys["migrations/nonumber.sql"] = &fstest.MapFile{Data: []byte("C")}
	if _, err := Read(fsys); err == nil {
		t.Fatal("a file without a version number was accepted")
	}
	if Latest(fstest.MapFS{}) != 0 {
		t.Fatal("an empty set has a version")
	}
}
