package openapi

import (
	"net/http"

	"github.com/duckgate/duckgate/shared/api"
)

// Who may call an operation.
const (
	AuthNone  = "none"  // public
	AuthUser  = "user"  // any signed-in user (bearer access token)
	AuthAdmin = "admin" // a signed-in admin
)

// Schema is one JSON Schema (2020-12, the dialect of OpenAPI 3.1).
type Schema = map[string]any

// Operation is one endpoint as the document describes it. The backend's
// route table (internal/httpapi/routes.go) declares these beside the
// handlers, so the document and the router come from one list.
type Operation struct {
	Method string // GET, POST, …
	Path   string // OpenAPI style: /users/{id}
	Auth   string // AuthNone, AuthUser or AuthAdmin
	// KeyScope is the API key scope that admits keys ("": keys refused).
	KeyScope string
	// Metered operations count against the AI requests-per-minute limits.
	Metered bool
	// OpenAI operations answer failures in OpenAI's error envelope.
	OpenAI       bool
	MaxBodyBytes int64 // the request body limit (413 above it)
	Doc
}

// Doc is what the document says about an operation besides its method,
// path, access and body limit.
type Doc struct {
	Tag         string
	Summary     string
	Description string
	Params      []Param
	Body        *Body
	Responses   []Response
	// Problems lists the problem statuses the operation may answer besides
	// 500 (which every operation can, and is added when building).
	Problems []int
}

// Param is a path or query parameter.
type Param struct {
	Name, In    string // In: path or query
	Description string
	Schema      Schema
}

// Body is the JSON body an operation takes (a zero value of its Go type),
// with an optional form-encoded alternative.
type Body struct {
	JSON     any
	Form     Schema
	Optional bool // the operation also takes no body at all
}

// Response is one documented status: a body of a Go type (JSON), a raw
// media type, or nothing.
type Response struct {
	Status      int
	Description string
	JSON        any    // Go value whose type is the JSON body; nil for none
	MediaType   string // non-JSON body (text/event-stream, video/mp4, …)
	Raw         Schema // schema of the non-JSON body
	AlsoJSON    bool   // MediaType is an alternative to the JSON body
	// Events is a Go value whose type is each event's data of a
	// text/event-stream body (the stream ends with data: [DONE]).
	Events any
}

// Shorthands that keep the route table readable.

// OK is a JSON answer.
func OK(status int, description string, body any) Response {
	return Response{Status: status, Description: description, JSON: body}
}

// NoContent is a 204 answer.
func NoContent(description string) Response {
	return Response{Status: http.StatusNoContent, Description: description}
}

// PathID is the {id} path parameter.
func PathID(description string) Param {
	return Param{Name: "id", In: "path", Description: description, Schema: Schema{"type": "string"}}
}

// Query is a query parameter.
func Query(name, description string, s Schema) Param {
	return Param{Name: name, In: "query", Description: description, Schema: s}
}

// The paging parameters of listings.
var (
	LimitParam = Query("limit", "Page size.",
		Schema{"type": "integer", "minimum": 1, "maximum": 200, "default": 50})
	OffsetParam = Query("offset", "How many items to skip.",
		Schema{"type": "integer", "minimum": 0, "default": 0})
)

// Problem statuses that go together.
var (
	BodyProblems   = []int{400, 413, 415, 422}                          // any JSON body
	UserProblems   = []int{401}                                         // needs a token
	AdminProblems  = []int{401, 403}                                    // needs an admin
	AIProblems     = []int{401, 429, 502, 503, 504}                     // calls the AI provider
	AIBodyProblems = []int{400, 401, 413, 415, 422, 429, 502, 503, 504} // both
)

// Statuses joins groups of problem statuses.
func Statuses(groups ...[]int) []int {
	var all []int
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

// schemaHints add what Go types cannot say: enums, formats, lengths.
func schemaHints() map[string]schema {
	roles := []string{api.RoleUser, api.RoleAdmin}
	email := schema{"type": "string", "format": "email"}
	password := schema{"type": "string", "format": "password", "minLength": 8, "maxLength": 128}
	return map[string]schema{
		"User.role":                        {"enum": roles},
		"User.email":                       email,
		"User.id":                          {"format": "uuid"},
		"RoleRequest.role":                 {"enum": roles},
		"RegisterRequest.email":            email,
		"RegisterRequest.password":         password,
		"LoginRequest.email":               email,
		"LoginRequest.password":            {"format": "password"},
		"UpdateMeRequest.email":            {"format": "email"},
		"UpdateMeRequest.password":         {"format": "password", "minLength": 8, "maxLength": 128},
		"UpdateMeRequest.current_password": {"format": "password"},
		"TokenPair.token_type":             {"enum": []string{"bearer"}},
		"TokenPair.expires_in":             {"description": "Lifetime of the access token in seconds."},
		"ChatMessage.role":                 {"enum": []string{api.ChatRoleSystem, api.ChatRoleUser, api.ChatRoleAssistant}},
		"ChatRequest.messages":             {"minItems": 1},
		"ChatRequest.temperature":          {"minimum": 0, "maximum": 2},
		"ChatRequest.max_tokens":           {"minimum": 1},
		"VideoJob.status": {"enum": []string{api.VideoPending, api.VideoInProgress, api.VideoCompleted,
			api.VideoFailed, api.VideoCancelled, api.VideoExpired}},
		"VideoFromImageRequest.image_url": {"description": "An https URL or a data: URL of a PNG, JPEG or WebP image."},
		"DBHealth.status":                 {"enum": []string{"ok", "error"}},
		"UsageReport.group_by":            {"enum": []string{"model", "user", "day"}},
		"Image.url":                       {"description": "An https URL or a data: URL."},
		"Problem.type":                    {"format": "uri"},
		"Problem.errors":                  {"description": "The invalid fields (validation problems only)."},
		"Problem.request_id":              {"description": "The X-Request-ID of the failed request, for support."},
	}
}
