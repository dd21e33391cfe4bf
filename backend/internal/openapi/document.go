// Package openapi describes the backend's HTTP API as an OpenAPI 3.1
// document, serves it with an interactive docs page (vendored Swagger UI),
// and validates responses against it in tests.
//
// The document is built once at start-up from a declarative table of
// operations (operations.go) and JSON Schemas reflected from the shared/api
// Go types (schema.go), so the documented shapes are the ones the code
// encodes.
package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/duckgate/duckgate/shared/api"
)

// Version of OpenAPI the document follows.
const Version = "3.1.1"

// Info names the API in the document.
type Info struct {
	Title       string
	Version     string
	Description string
	ServerURL   string // where "Try it out" sends requests; "/" when empty
	// License names the API's license; empty: none said.
	License string
}

// License is what the document says of the project's license. The
// repository carries no LICENSE file, so no licence is granted: change
// this (to an SPDX identifier) when one is chosen.
const License = "Proprietary: no licence is granted (the repository has no LICENSE file)"

// DefaultDescription introduces the API in the document's info.
const DefaultDescription = "The HTTP API of duckgate: accounts with access and refresh tokens, API keys, an AI gateway " +
	"over OpenRouter (chat, text, images, videos) with monthly budgets and rate limits, an OpenAI-compatible API under /v1 " +
	"that the official OpenAI SDKs use unmodified, and administration. Errors are RFC 9457 problem details " +
	"(application/problem+json), except under /v1, which answers OpenAI's error envelope. Authenticate with " +
	"`Authorization: Bearer <access token>` (POST /auth/login) or `Bearer dg_…` (an API key, on the operations its scopes allow)."

// GinPath converts an OpenAPI path template (/users/{id}) to gin's syntax
// (/users/:id); {name...} becomes the catch-all *name.
func GinPath(openapiPath string) string {
	segs := strings.Split(openapiPath, "/")
	for i, s := range segs {
		if name, ok := strings.CutSuffix(strings.TrimPrefix(s, "{"), "...}"); ok && strings.HasPrefix(s, "{") {
			segs[i] = "*" + name
		} else if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = ":" + s[1:len(s)-1]
		}
	}
	return strings.Join(segs, "/")
}

// OpenAPIPath converts a gin route (/users/:id) to an OpenAPI template
// (/users/{id}).
func OpenAPIPath(ginPath string) string {
	segs := strings.Split(ginPath, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

// Build returns the OpenAPI document of ops as JSON.
func Build(info Info, ops []Operation) ([]byte, error) {
	doc, err := document(info, ops)
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("openapi: encode document: %w", err)
	}
	return out, nil
}

func document(info Info, ops []Operation) (schema, error) {
	r := newReflector(schemaHints())
	problemRef := r.ref(api.Problem{})
	openAIErrorRef := r.ref(api.OpenAIErrorResponse{})

	paths := schema{}
	for _, op := range ops {
		item, _ := paths[op.Path].(schema)
		if item == nil {
			item = schema{}
			paths[op.Path] = item
		}
		method := strings.ToLower(op.Method)
		if _, dup := item[method]; dup {
			return nil, fmt.Errorf("openapi: %s %s is declared twice", op.Method, op.Path)
		}
		errorRef, errorType := problemRef, api.ProblemContentType
		if op.OpenAI {
			errorRef, errorType = openAIErrorRef, "application/json"
		}
		item[method] = operationObject(r, op, errorRef, errorType)
	}

	server := info.ServerURL
	if server == "" {
		server = "/"
	}
	return schema{
		"openapi": Version,
		"info":    infoObject(info),
		"servers": []schema{{"url": server}},
		"tags": []schema{
			{"name": "Auth", "description": "Accounts, sign-in and token rotation."},
			{"name": "Users", "description": "The caller's account and sessions; user administration."},
			{"name": "Admin", "description": "Statistics, health, maintenance and audit (admins only)."},
			{"name": "AI", "description": "Chat, text, image and video generation through OpenRouter."},
			{"name": "Conversations", "description": "Conversations kept per user on the server, answered by the AI gateway."},
			{"name": "OpenAI-compatible", "description": "OpenAI's API shapes under /v1, for the official SDKs and the tools built on them."},
			{"name": "API keys", "description": "Long-lived credentials for integrators (dg_…), scoped to ai and read."},
			{"name": "Operations", "description": "Health, metrics, keys and this documentation."},
		},
		"paths": paths,
		"components": schema{
			"schemas":         r.components,
			"securitySchemes": securitySchemes(),
		},
	}, nil
}

func infoObject(info Info) schema {
	description := info.Description
	if description == "" {
		description = DefaultDescription
	}
	out := schema{"title": info.Title, "version": info.Version, "description": description}
	if info.License != "" {
		out["license"] = schema{"name": info.License}
	}
	return out
}

// KeyScopeExtension names the API key scope that admits keys on an
// operation (absent: keys are refused).
const KeyScopeExtension = "x-api-key-scope"

func securitySchemes() schema {
	return schema{
		"apiKey": schema{ //nolint:gosec // a security scheme's description, not a credential
			"type": "http", "scheme": "bearer", "bearerFormat": "dg_ API key",
			"description": "An API key from POST /users/me/api-keys; the scopes it needs are listed in each operation's requirement.",
		},
		"bearerAuth": schema{
			"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
			"description": "An access token from POST /auth/login or POST /auth/refresh.",
		},
		"oauth2Password": schema{
			"type":        "oauth2",
			"description": "Sign in with email (as username) and password; the docs page's Authorize button uses this.",
			"flows": schema{
				"password": schema{"tokenUrl": "/auth/login", "scopes": schema{}}, //nolint:gosec // an OAuth2 flow's name, not a credential
			},
		},
	}
}

// security is the requirement of an operation: none, or a bearer token
// obtained either way, or an API key holding the scope.
func security(auth, scope string) []schema {
	if auth == AuthNone {
		return []schema{}
	}
	out := []schema{{"bearerAuth": []string{}}, {"oauth2Password": []string{}}}
	if scope != "" {
		out = append(out, schema{"apiKey": []string{scope}})
	}
	return out
}

func operationObject(r *reflector, op Operation, errorRef schema, errorType string) schema {
	description := op.Description
	if op.Auth == AuthAdmin {
		description = strings.TrimSpace("Requires the admin role. " + description)
	}
	if op.Auth != AuthNone {
		if op.KeyScope != "" {
			description = strings.TrimSpace(description + " API keys with the " + op.KeyScope + " scope may call it.")
		} else {
			description = strings.TrimSpace(description + " API keys cannot call it (403).")
		}
	}
	obj := schema{
		"operationId": operationID(op.Method, op.Path),
		"tags":        []string{op.Tag},
		"summary":     op.Summary,
		"security":    security(op.Auth, op.KeyScope),
		"responses":   responsesObject(r, op, errorRef, errorType),
	}
	if op.KeyScope != "" {
		obj[KeyScopeExtension] = op.KeyScope
	}
	if description != "" {
		obj["description"] = description
	}
	if params := parameters(op); len(params) > 0 {
		obj["parameters"] = params
	}
	if op.Body != nil {
		content := schema{"application/json": schema{"schema": r.ref(op.Body.JSON)}}
		if op.Body.Form != nil {
			content["application/x-www-form-urlencoded"] = schema{"schema": op.Body.Form}
		}
		obj["requestBody"] = schema{
			"required":    !op.Body.Optional,
			"description": fmt.Sprintf("At most %d bytes; a larger body answers 413.", op.MaxBodyBytes),
			"content":     content,
		}
		obj[MaxBodyExtension] = op.MaxBodyBytes
	}
	return obj
}

// MaxBodyExtension is the operation's request body limit in bytes, as a
// specification extension (OpenAPI 3.1, 4.9): clients and tests can read
// what the server enforces.
const MaxBodyExtension = "x-max-body-bytes"

func parameters(op Operation) []schema {
	var out []schema
	for _, p := range op.Params {
		s := schema{"name": p.Name, "in": p.In, "schema": p.Schema}
		if p.Description != "" {
			s["description"] = p.Description
		}
		if p.In == "path" {
			s["required"] = true
		}
		out = append(out, s)
	}
	return out
}

func responsesObject(r *reflector, op Operation, errorRef schema, errorType string) schema {
	out := schema{}
	for _, resp := range op.Responses {
		key := strconv.Itoa(resp.Status)
		entry, _ := out[key].(schema)
		if entry == nil {
			entry = schema{"description": resp.Description}
			out[key] = entry
		}
		if resp.JSON == nil && resp.MediaType == "" {
			continue
		}
		content, _ := entry["content"].(schema)
		if content == nil {
			content = schema{}
			entry["content"] = content
		}
		switch {
		case resp.JSON != nil:
			content["application/json"] = schema{"schema": r.ref(resp.JSON)}
		case resp.Events != nil:
			content[resp.MediaType] = schema{"schema": eventStream(r.ref(resp.Events)), "x-sse-sentinel": "[DONE]"}
		default:
			content[resp.MediaType] = schema{"schema": resp.Raw}
		}
	}
	statuses := slices.Concat(op.Problems, []int{http.StatusInternalServerError})
	if op.Auth != AuthNone {
		statuses = append(statuses, http.StatusForbidden) // an API key without the scope
	}
	if op.Metered {
		statuses = append(statuses, http.StatusPaymentRequired, http.StatusTooManyRequests)
	}
	for _, status := range statuses {
		key := strconv.Itoa(status)
		if _, documented := out[key]; documented {
			continue
		}
		entry := schema{
			"description": http.StatusText(status) + problemNote(status),
			"content":     schema{errorType: schema{"schema": errorRef}},
		}
		if h := problemHeaders(status); h != nil {
			entry["headers"] = h
		}
		out[key] = entry
	}
	return out
}

// eventStream is the schema of a text/event-stream body whose events'
// data are of the schema data (the convention of OpenRouter's own
// document: an object whose data member is the event).
func eventStream(data schema) schema {
	return schema{
		"type":        "object",
		"description": "Server-sent events: each `data:` line holds one such value; the stream ends with `data: [DONE]`.",
		"properties":  schema{"data": data},
		"required":    []string{"data"},
	}
}

// problemNote says what a problem status means in this API.
func problemNote(status int) string {
	switch status {
	case 400:
		return ": the body or a parameter cannot be parsed."
	case 401:
		return ": no valid access token (or wrong credentials for sign-in)."
	case 402:
		return ": the monthly AI budget is spent; the detail says the limit and when it resets."
	case 403:
		return ": signed in, but not allowed (or an API key without the scope)."
	case 404:
		return ": no such resource, or not yours."
	case 409:
		return ": conflicts with the current state."
	case 413:
		return ": the body is over the size limit."
	case 415:
		return ": the body must be application/json."
	case 422:
		return ": fields are invalid; errors names them."
	case 429:
		return ": too many requests; retry after Retry-After seconds."
	case 502:
		return ": the AI provider failed."
	case 503:
		return ": the AI provider is not configured or the database is down."
	case 504:
		return ": the AI provider did not answer in time."
	case 500:
		return ": the request id identifies the failure in the logs."
	}
	return "."
}

func problemHeaders(status int) schema {
	switch status {
	case http.StatusTooManyRequests:
		return schema{"Retry-After": schema{"description": "Seconds to wait.", "schema": schema{"type": "integer"}}}
	case http.StatusUnauthorized:
		return schema{"WWW-Authenticate": schema{"description": "Bearer challenge (RFC 6750).", "schema": schema{"type": "string"}}}
	}
	return nil
}

// operationID is a stable camel-case name: GET /users/{id}/role → getUsersIdRole.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, word := range strings.FieldsFunc(path, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(word[:1]) + word[1:])
	}
	return b.String()
}

// sortedKeys is used where a stable order matters (error messages, tests).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
