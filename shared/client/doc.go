// Package client is the typed Go client of the duckgate backend API: one
// method per endpoint, taking and returning the types of package api.
//
// A Client is created once and shared; WithToken derives a cheap copy that
// authenticates as one user:
//
//	c := client.New("http://127.0.0.1:8000")
//	pair, err := c.Login(ctx, api.LoginRequest{Email: email, Password: password})
//	...
//	me, err := c.WithToken(pair.AccessToken).Me(ctx)
//
// Every answer that is not 2xx comes back as a *api.Problem (RFC 9457), even
// when something other than the backend answered; IsStatus(err, 401) and
// errors.As reach it. Transport failures are wrapped with the method and
// path ("client: POST /auth/login: ...") and keep their cause, so
// errors.Is(err, context.DeadlineExceeded) works.
//
// Request metadata travels in the context: WithRequestID sets X-Request-ID,
// and WithForwarded sets X-Forwarded-For and User-Agent when calling on behalf
// of a browser.
//
// ChatStream returns a streamed chat answer chunk by chunk as the server
// writes it. VideoContent hands back the video body unbuffered.
package client
