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

// operation declares one endpoint of the backend. The document is built from
// this table, and so is the list the router is tested against.
type operation struct {
	method, path string // path in OpenAPI style: /users/{id}
	tag          string
	summary      string
	description  string
	auth         string
	params       []param
	body         *requestBody
	responses    []response
}

type param struct {
	name, in    string // in: path or query
	description string
	schema      schema
}

// requestBody is the JSON body an operation takes (a zero value of its Go
// type), with an optional form-encoded alternative.
type requestBody struct {
	json any
	form schema
}

// response is one documented status: a body of a Go type (JSON), a raw
// media type, or nothing.
type response struct {
	status      int
	description string
	json        any    // Go value whose type is the JSON body; nil for none
	mediaType   string // non-JSON body (text/event-stream, video/mp4, …)
	raw         schema // schema of the non-JSON body
	alsoJSON    bool   // mediaType is an alternative to the JSON body
}

// Shorthands that keep the table below readable.

func ok(status int, description string, body any) response {
	return response{status: status, description: description, json: body}
}

func noContent(description string) response {
	return response{status: http.StatusNoContent, description: description}
}

func pathID(description string) param {
	return param{name: "id", in: "path", description: description, schema: schema{"type": "string"}}
}

func query(name, description string, s schema) param {
	return param{name: name, in: "query", description: description, schema: s}
}

var (
	limitParam = query("limit", "Page size.",
		schema{"type": "integer", "minimum": 1, "maximum": 200, "default": 50})
	offsetParam = query("offset", "How many items to skip.",
		schema{"type": "integer", "minimum": 0, "default": 0})
)

// Problem statuses that go together.
var (
	bodyProblems = []int{400, 413, 415, 422}      // any JSON body
	userProblems = []int{401}                     // needs a token
	adminProblem = []int{401, 403}                // needs an admin
	aiProblems   = []int{401, 429, 502, 503, 504} // calls the AI provider
	aiBody       = []int{400, 401, 413, 415, 422, 429, 502, 503, 504}
)

func statuses(groups ...[]int) []int {
	var all []int
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

// operationTable lists every endpoint with the problem statuses it can answer
// besides 500 (which every operation can, and is added when building).
func operationTable() []tableEntry {
	return []tableEntry{
		// Operations.
		{op: operation{method: "GET", path: "/healthz", tag: "Operations", auth: AuthNone,
			summary:     "Liveness",
			description: "Answers 200 while the process is alive; checks no dependency.",
			responses:   []response{ok(200, "The process is alive.", api.Health{})}}},
		{op: operation{method: "GET", path: "/readyz", tag: "Operations", auth: AuthNone,
			summary:     "Readiness",
			description: "Answers 200 when DuckDB is reachable and its schema is current, 503 otherwise.",
			responses: []response{ok(200, "Ready to serve.", api.Health{}),
				ok(503, "A dependency is down; checks names it.", api.Health{})}}},
		{op: operation{method: "GET", path: "/metrics", tag: "Operations", auth: AuthNone,
			summary:     "Prometheus metrics",
			description: "HTTP request counts and latencies by route, database pool statistics, Go runtime and process metrics.",
			responses: []response{{status: 200, description: "Prometheus text exposition format.",
				mediaType: "text/plain", raw: schema{"type": "string"}}}}},
		{op: operation{method: "GET", path: "/.well-known/jwks.json", tag: "Operations", auth: AuthNone,
			summary:     "Public signing keys",
			description: "The JSON Web Key Set (RFC 7517) whose Ed25519 keys verify access tokens; tokens name their key with the kid header.",
			responses:   []response{ok(200, "The key set.", api.JWKS{})}}},
		{op: operation{method: "GET", path: "/openapi.json", tag: "Operations", auth: AuthNone,
			summary:     "This OpenAPI document",
			description: "The OpenAPI 3.1 description of the whole API.",
			responses: []response{{status: 200, description: "The document.",
				mediaType: "application/json", raw: schema{"type": "object"}}}}},
		{op: operation{method: "GET", path: "/docs", tag: "Operations", auth: AuthNone,
			summary:     "Interactive API documentation",
			description: "A Swagger UI page over this document; Authorize signs in through POST /auth/login.",
			responses: []response{{status: 200, description: "An HTML page.",
				mediaType: "text/html", raw: schema{"type": "string"}}}}},

		// Auth.
		{problems: statuses(bodyProblems, []int{409}), op: operation{method: "POST", path: "/auth/register", tag: "Auth", auth: AuthNone,
			summary:     "Create an account",
			description: "The email is trimmed, lower-cased and validated; the password must have 8 to 128 characters. A taken email answers 409.",
			body:        &requestBody{json: api.RegisterRequest{}},
			responses:   []response{ok(201, "The new user.", api.User{})}}},
		{problems: statuses(bodyProblems, []int{401, 429}), op: operation{method: "POST", path: "/auth/login", tag: "Auth", auth: AuthNone,
			summary: "Sign in",
			description: "Takes JSON {email, password} or, for the OAuth2 password flow, the form fields username and password. " +
				"An unknown email and a wrong password both answer the same 401; repeated failures answer 429 with Retry-After.",
			body:      &requestBody{json: api.LoginRequest{}, form: loginForm},
			responses: []response{ok(200, "A new session's tokens.", api.TokenPair{})}}},
		{problems: statuses(bodyProblems, []int{401}), op: operation{method: "POST", path: "/auth/refresh", tag: "Auth", auth: AuthNone,
			summary: "Rotate a refresh token",
			description: "Returns a new token pair; the presented refresh token stops working at once. " +
				"An unknown, expired, revoked or already rotated token answers 401 (and a rotated one revokes its whole session).",
			body:      &requestBody{json: api.RefreshRequest{}},
			responses: []response{ok(200, "The session's new tokens.", api.TokenPair{})}}},
		{problems: bodyProblems, op: operation{method: "POST", path: "/auth/logout", tag: "Auth", auth: AuthNone,
			summary:     "Sign out",
			description: "Revokes the session of the refresh token. An unknown token still answers 204.",
			body:        &requestBody{json: api.RefreshRequest{}},
			responses:   []response{noContent("Signed out.")}}},

		// Users.
		{problems: userProblems, op: operation{method: "GET", path: "/users/me", tag: "Users", auth: AuthUser,
			summary:   "The signed-in user",
			responses: []response{ok(200, "The caller's account.", api.User{})}}},
		{problems: statuses(bodyProblems, []int{401, 403, 409}), op: operation{method: "PUT", path: "/users/me", tag: "Users", auth: AuthUser,
			summary: "Change email or password",
			description: "current_password is required; a wrong one answers 403. " +
				"A password change signs out every other session of the user. A taken email answers 409.",
			body:      &requestBody{json: api.UpdateMeRequest{}},
			responses: []response{ok(200, "The updated account.", api.User{})}}},
		{problems: userProblems, op: operation{method: "GET", path: "/users/me/sessions", tag: "Users", auth: AuthUser,
			summary:     "The caller's sessions",
			description: "Active sessions (refresh-token families); current marks the one making this request.",
			responses:   []response{ok(200, "The sessions.", api.SessionList{})}}},
		{problems: []int{401, 404}, op: operation{method: "DELETE", path: "/users/me/sessions/{id}", tag: "Users", auth: AuthUser,
			summary:     "End one session",
			description: "Revokes that session; its access tokens stop working at once. Another user's session id answers 404.",
			params:      []param{pathID("Session id.")},
			responses:   []response{noContent("Session ended.")}}},
		{problems: userProblems, op: operation{method: "DELETE", path: "/users/me/sessions", tag: "Users", auth: AuthUser,
			summary:   "Sign out everywhere else",
			responses: []response{noContent("Every session but the current one ended.")}}},
		{problems: statuses(adminProblem, []int{400, 422}), op: operation{method: "GET", path: "/users", tag: "Users", auth: AuthAdmin,
			summary: "List users",
			params: []param{limitParam, offsetParam,
				query("q", "Keep users whose email contains this text.", schema{"type": "string"})},
			responses: []response{ok(200, "A page of users.", api.UserList{})}}},
		{problems: statuses(adminProblem, []int{404, 409}), op: operation{method: "DELETE", path: "/users/{id}", tag: "Users", auth: AuthAdmin,
			summary:     "Delete a user",
			description: "Ends the user's sessions. Deleting yourself answers 409.",
			params:      []param{pathID("User id.")},
			responses:   []response{noContent("Deleted.")}}},
		{problems: statuses(bodyProblems, adminProblem, []int{404, 409}), op: operation{method: "PUT", path: "/users/{id}/role", tag: "Users", auth: AuthAdmin,
			summary:     "Change a user's role",
			description: "A role other than user or admin answers 422; demoting the last admin answers 409.",
			params:      []param{pathID("User id.")},
			body:        &requestBody{json: api.RoleRequest{}},
			responses:   []response{ok(200, "The updated user.", api.User{})}}},

		// Admin.
		{problems: adminProblem, op: operation{method: "GET", path: "/admin/stats", tag: "Admin", auth: AuthAdmin,
			summary:     "Usage statistics",
			description: "Users by role, refresh tokens by state, and AI generation calls of the last 24 hours by model.",
			responses:   []response{ok(200, "The statistics.", api.Stats{})}}},
		{problems: adminProblem, op: operation{method: "GET", path: "/admin/health/db", tag: "Admin", auth: AuthAdmin,
			summary: "Database health",
			responses: []response{ok(200, "The database answers.", api.DBHealth{}),
				ok(503, "The database does not answer.", api.DBHealth{})}}},
		{problems: adminProblem, op: operation{method: "POST", path: "/admin/tokens/purge", tag: "Admin", auth: AuthAdmin,
			summary:   "Purge dead refresh tokens",
			responses: []response{ok(200, "How many expired and revoked tokens were deleted.", api.PurgeResult{})}}},
		{problems: statuses(adminProblem, []int{409, 503}), op: operation{method: "POST", path: "/admin/backup", tag: "Admin", auth: AuthAdmin,
			summary:     "Back up the database",
			description: "Writes a consistent snapshot of the database under BACKUP_DIR while serving.",
			responses:   []response{ok(200, "Where the snapshot was written.", api.BackupResult{})}}},
		{problems: statuses(adminProblem, []int{400, 422}), op: operation{method: "GET", path: "/admin/audit", tag: "Admin", auth: AuthAdmin,
			summary:     "Audit trail",
			description: "Admin actions, role changes, deletions, purges, sign-in failures, lock-outs and session revocations, newest first.",
			params: []param{limitParam, offsetParam,
				query("actor", "Keep entries by this actor (user id).", schema{"type": "string"}),
				query("action", "Keep entries of this action.", schema{"type": "string", "examples": auditActions})},
			responses: []response{ok(200, "A page of the audit trail.", api.AuditList{})}}},
		{problems: statuses(adminProblem, []int{400, 422}), op: operation{method: "GET", path: "/admin/usage", tag: "Admin", auth: AuthAdmin,
			summary: "AI usage report",
			description: "Upstream generation calls (chat, text, image, video submissions; successful or not) of the last days, " +
				"grouped by model, user or day (UTC), with tokens and OpenRouter's own cost. Records are written in batches, within about a second.",
			params: []param{
				query("days", "How many days back.", schema{"type": "integer", "minimum": 1, "maximum": 365, "default": 30}),
				query("group_by", "Grouping of the rows.", schema{"type": "string", "enum": []string{"model", "user", "day"}, "default": "model"})},
			responses: []response{ok(200, "The report.", api.UsageReport{})}}},

		// AI.
		{problems: statuses(aiProblems, []int{400, 422}), op: operation{method: "GET", path: "/ai/models", tag: "AI", auth: AuthUser,
			summary:     "Available models",
			description: "OpenRouter's models merged with its video models, optionally only those with one output modality.",
			params: []param{query("modality", "Keep models with this output modality.",
				schema{"type": "string", "enum": []string{api.ModalityText, api.ModalityImage, api.ModalityVideo}})},
			responses: []response{ok(200, "The models.", api.ModelList{})}}},
		{problems: aiBody, op: operation{method: "POST", path: "/ai/chat", tag: "AI", auth: AuthUser,
			summary: "Chat completion",
			description: "Without stream, one JSON answer. With \"stream\": true, a text/event-stream of OpenAI-style " +
				"chat.completion.chunk events (see the ChatChunk schema) ending with `data: [DONE]`; an upstream failure after " +
				"the stream began arrives as an event `data: {\"error\": {\"code\", \"message\"}}` before [DONE].",
			body: &requestBody{json: api.ChatRequest{}},
			responses: []response{
				ok(200, "The assistant's message, or the event stream when stream is true.", api.ChatResponse{}),
				{status: 200, mediaType: "text/event-stream", alsoJSON: true,
					raw: schema{"type": "string", "description": "Server-sent events; each data line is a ChatChunk or [DONE]."}},
			}}},
		{problems: aiBody, op: operation{method: "POST", path: "/generate/text", tag: "AI", auth: AuthUser,
			summary:   "Generate text",
			body:      &requestBody{json: api.TextRequest{}},
			responses: []response{ok(200, "The generated text.", api.TextResponse{})}}},
		{problems: aiBody, op: operation{method: "POST", path: "/generate/image", tag: "AI", auth: AuthUser,
			summary:     "Generate images",
			description: "aspect_ratio is checked against the model's capabilities (422 names the allowed values). Image URLs may be data: URLs.",
			body:        &requestBody{json: api.ImageRequest{}},
			responses:   []response{ok(200, "The generated images.", api.ImageResponse{})}}},
		{problems: aiBody, op: operation{method: "POST", path: "/generate/video", tag: "AI", auth: AuthUser,
			summary:     "Start a video generation",
			description: "duration, resolution and aspect_ratio are checked against the model's capabilities (422 names the allowed values). Poll the job until it is terminal.",
			body:        &requestBody{json: api.VideoRequest{}},
			responses:   []response{ok(202, "The job, accepted.", api.VideoJob{})}}},
		{problems: aiBody, op: operation{method: "POST", path: "/generate/video/from-image", tag: "AI", auth: AuthUser,
			summary: "Start a video generation from an image",
			description: "image_url is an https URL or a data: URL of a PNG, JPEG or WebP image (judged by its bytes, not its declared type) " +
				"of at most 5 MiB once decoded; this endpoint takes bodies up to MAX_IMAGE_BYTES (413 above). " +
				"The other parameters are checked as for POST /generate/video.",
			body:      &requestBody{json: api.VideoFromImageRequest{}},
			responses: []response{ok(202, "The job, accepted.", api.VideoJob{})}}},
		{problems: statuses(userProblems, []int{400, 422, 503}), op: operation{method: "GET", path: "/generate/video", tag: "AI", auth: AuthUser,
			summary:   "The caller's video jobs",
			params:    []param{limitParam, offsetParam},
			responses: []response{ok(200, "A page of jobs, newest first.", api.VideoJobList{})}}},
		{problems: statuses(aiProblems, []int{404}), op: operation{method: "GET", path: "/generate/video/{id}", tag: "AI", auth: AuthUser,
			summary:     "A video job",
			description: "The owner or an admin may read a job; anyone else gets 404.",
			params:      []param{pathID("Job id.")},
			responses:   []response{ok(200, "The job's current state.", api.VideoJob{})}}},
		{problems: statuses(aiProblems, []int{404, 409}), op: operation{method: "GET", path: "/generate/video/{id}/content", tag: "AI", auth: AuthUser,
			summary:     "A finished video",
			description: "Streams the MP4 of a completed job (owner or admin). A job that is not completed answers 409.",
			params:      []param{pathID("Job id.")},
			responses: []response{{status: 200, description: "The video.", mediaType: "video/mp4",
				raw: schema{"type": "string", "contentMediaType": "video/mp4"}}}}},
	}
}

// tableEntry pairs an operation with the problem statuses it may answer.
type tableEntry struct {
	op       operation
	problems []int
}

// loginForm is the OAuth2 password-flow body of POST /auth/login (RFC 6749, 4.3.2).
var loginForm = schema{
	"type":     "object",
	"required": []string{"username", "password"},
	"properties": schema{
		"grant_type": schema{"type": "string", "enum": []string{"password"}},
		"username":   schema{"type": "string", "description": "The account's email."},
		"password":   schema{"type": "string", "format": "password"},
		"scope":      schema{"type": "string", "description": "Ignored."},
	},
}

var auditActions = []string{
	api.AuditLoginFailed, api.AuditLockout, api.AuditFamilyRevoked, api.AuditPasswordChange,
	api.AuditEmailChange, api.AuditRoleChange, api.AuditUserDeleted, api.AuditTokensPurged,
	api.AuditUserCreated, api.AuditBackup,
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
