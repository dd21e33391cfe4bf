package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/duckgate/duckgate/shared/api"
	"github.com/duckgate/duckgate/shared/client"
)

// Sign in, then stream a chat answer as it is written.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	c := client.New("http://127.0.0.1:8000", client.WithUserAgent("example/1.0"))
	pair, err := c.Login(ctx, api.LoginRequest{Email: "ada@example.com", Password: "correct horse"})
	if client.IsStatus(err, http.StatusTooManyRequests) {
		var p *api.Problem
		errors.As(err, &p)
		log.Fatalf("locked out, retry in %ds", p.RetryAfter)
	}
	if err != nil {
		log.Fatal(err)
	}
	user := c.WithToken(pair.AccessToken)

	stream, err := user.ChatStream(ctx, api.ChatRequest{
		Messages: []api.ChatMessage{{Role: api.ChatRoleUser, Content: "Tell me about ducks."}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()
	for {
		chunk, err := stream.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err) // a *client.StreamError when the provider failed mid-answer
		}
		for _, choice := range chunk.Choices {
			fmt.Print(choice.Delta.Content)
		}
	}
}
