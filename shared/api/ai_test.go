package api

import (
	"slices"
	"testing"
)

func TestChatImageAspectRatiosAreOpenRoutersAndACopy(t *testing.T) {
	want := []string{"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}
	got := ChatImageAspectRatios()
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want OpenRouter's %q", got, want)
	}
	got[0] = "changed"
	if again := ChatImageAspectRatios(); !slices.Equal(again, want) {
		t.Fatalf("changing a returned slice changed the list: %q", again)
	}
}
