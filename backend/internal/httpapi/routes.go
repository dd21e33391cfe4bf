package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/accounts"
	"github.com/duckgate/duckgate/backend/internal/admin"
	"github.com/duckgate/duckgate/backend/internal/ai"
	"github.com/duckgate/duckgate/backend/internal/apikeys"
	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/budgets"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/backend/internal/openapi"
	"github.com/duckgate/duckgate/backend/internal/users"
	"github.com/duckgate/duckgate/backend/internal/workspace"
	"github.com/duckgate/duckgate/shared/api"
)

// Route is one endpoint of the backend: what serves it, who may call it,
// how large its body may be, and what the OpenAPI document says about it.
type Route struct {
	Method string
	Path   string // OpenAPI style: /users/{id}
	Auth   Access
	// Scope is the API key scope that admits a key (model.ScopeAI,
	// model.ScopeRead); empty: keys are refused, whatever the user's role
	// (account management, admin). Access tokens ignore it.
	Scope string
	// Metered routes are AI generation calls: they count against the
	// requests-per-minute limits of the user and the key.
	Metered bool
	// OpenAI routes (/v1) render failures in OpenAI's error envelope
	// instead of problem details: the same error table, another shape.
	OpenAI  bool
	Handler gin.HandlerFunc
	// MaxBody is the request body limit in bytes; 0 takes MAX_BODY_BYTES.
	MaxBody int64
	// Hidden routes are served but not documented (the docs page's assets).
	Hidden bool
	Doc    openapi.Doc
}

// Access says who may call a route.
type Access int

const (
	Public Access = iota // no token needed
	User                 // any signed-in user
	Admin                // admins only
)

func (a Access) String() string {
	return [...]string{openapi.AuthNone, openapi.AuthUser, openapi.AuthAdmin}[a]
}

// Handlers are the domain packages' HTTP faces the table points at.
type Handlers struct {
	Auth      *auth.Handler
	Users     *users.Handler
	Admin     *admin.Handler
	AI        *ai.Handler
	Workspace *workspace.Handler
	Accounts  *accounts.Handler
	APIKeys   *apikeys.Handler
	Budgets   *budgets.Handler
	OpenAI    *ai.OpenAIHandler
}

// BodyLimits are the request body limits of the configuration.
type BodyLimits struct {
	Default int64 // MAX_BODY_BYTES
	Image   int64 // MAX_IMAGE_BYTES: a data: image inside the JSON
}

// routes is THE route table: every endpoint the backend serves, in the
// order of the documentation. A newcomer finds any behaviour one hop from
// here: the handler named in its row.
func routes(h Handlers, ops *operations, limits BodyLimits) []Route {
	table := []Route{
		// Operations.
		{Method: "GET", Path: "/healthz", Auth: Public, Handler: ops.healthz,
			Doc: openapi.Doc{Tag: "Operations", Summary: "Liveness",
				Description: "Answers 200 while the process is alive; checks no dependency.",
				Responses:   []openapi.Response{openapi.OK(200, "The process is alive.", api.Health{})}}},
		{Method: "GET", Path: "/readyz", Auth: Public, Handler: ops.readyz,
			Doc: openapi.Doc{Tag: "Operations", Summary: "Readiness",
				Description: "Answers 200 when the database (DuckDB or PostgreSQL) is reachable and its schema is current, 503 otherwise; " +
					"checks names the engine and the schema version this replica sees.",
				Responses: []openapi.Response{openapi.OK(200, "Ready to serve.", api.Health{}),
					openapi.OK(503, "A dependency is down; checks names it.", api.Health{})}}},
		{Method: "GET", Path: "/metrics", Auth: Public, Handler: ops.metrics,
			Doc: openapi.Doc{Tag: "Operations", Summary: "Prometheus metrics",
				Description: "HTTP request counts and latencies by route, database pool statistics, Go runtime and process metrics.",
				Responses: []openapi.Response{{Status: 200, Description: "Prometheus text exposition format.",
					MediaType: "text/plain", Raw: openapi.Schema{"type": "string"}}}}},
		{Method: "GET", Path: "/.well-known/jwks.json", Auth: Public, Handler: h.Auth.JWKS,
			Doc: openapi.Doc{Tag: "Operations", Summary: "Public signing keys",
				Description: "The JSON Web Key Set (RFC 7517) whose Ed25519 keys verify access tokens; tokens name their key with the kid header.",
				Responses:   []openapi.Response{openapi.OK(200, "The key set.", api.JWKS{})}}},
		{Method: "GET", Path: "/openapi.json", Auth: Public, Handler: ops.docs,
			Doc: openapi.Doc{Tag: "Operations", Summary: "This OpenAPI document",
				Description: "The OpenAPI 3.1 description of the whole API.",
				Responses: []openapi.Response{{Status: 200, Description: "The document.",
					MediaType: "application/json", Raw: openapi.Schema{"type": "object"}}}}},
		{Method: "GET", Path: "/docs", Auth: Public, Handler: ops.docs,
			Doc: openapi.Doc{Tag: "Operations", Summary: "Interactive API documentation",
				Description: "A Swagger UI page over this document; Authorize signs in through POST /auth/login.",
				Responses: []openapi.Response{{Status: 200, Description: "An HTML page.",
					MediaType: "text/html", Raw: openapi.Schema{"type": "string"}}}}},

		// Auth.
		{Method: "POST", Path: "/auth/register", Auth: Public, Handler: h.Auth.Register,
			Doc: openapi.Doc{Tag: "Auth", Summary: "Create an account",
				Description: "The email is trimmed, lower-cased and validated; the password must have 8 to 128 characters. A taken email answers 409.",
				Body:        &openapi.Body{JSON: api.RegisterRequest{}},
				Responses:   []openapi.Response{openapi.OK(201, "The new user.", api.User{})},
				Problems:    openapi.Statuses(openapi.BodyProblems, []int{409})}},
		{Method: "POST", Path: "/auth/login", Auth: Public, Handler: h.Auth.Login,
			Doc: openapi.Doc{Tag: "Auth", Summary: "Sign in",
				Description: "Takes JSON {email, password} or, for the OAuth2 password flow, the form fields username and password. " +
					"An unknown email and a wrong password both answer the same 401; repeated failures answer 429 with Retry-After: " +
					"LOGIN_MAX_FAILURES for one email from one address lock that pair, ten times as many lock the email everywhere.",
				Body:      &openapi.Body{JSON: api.LoginRequest{}, Form: loginForm},
				Responses: []openapi.Response{openapi.OK(200, "A new session's tokens.", api.TokenPair{})},
				Problems:  openapi.Statuses(openapi.BodyProblems, []int{401, 429})}},
		{Method: "POST", Path: "/auth/refresh", Auth: Public, Handler: h.Auth.Refresh,
			Doc: openapi.Doc{Tag: "Auth", Summary: "Rotate a refresh token",
				Description: "Returns a new token pair; the presented refresh token stops working at once. " +
					"An unknown, expired, revoked or already rotated token answers 401 (and a rotated one revokes its whole session).",
				Body:      &openapi.Body{JSON: api.RefreshRequest{}},
				Responses: []openapi.Response{openapi.OK(200, "The session's new tokens.", api.TokenPair{})},
				Problems:  openapi.Statuses(openapi.BodyProblems, []int{401})}},
		{Method: "POST", Path: "/auth/logout", Auth: Public, Handler: h.Auth.Logout,
			Doc: openapi.Doc{Tag: "Auth", Summary: "Sign out",
				Description: "Revokes the session of the refresh token. An unknown token still answers 204.",
				Body:        &openapi.Body{JSON: api.RefreshRequest{}},
				Responses:   []openapi.Response{openapi.NoContent("Signed out.")},
				Problems:    openapi.BodyProblems}},

		{Method: "GET", Path: "/auth/capabilities", Auth: Public, Handler: h.Accounts.Capabilities,
			Doc: openapi.Doc{Tag: "Auth", Summary: "What sign-in offers here",
				Description: "password_recovery is true when mail is configured (SMTP_URL): the forgot-password flow and mailed invitations work.",
				Responses:   []openapi.Response{openapi.OK(200, "The capabilities.", api.AuthCapabilities{})}}},
		{Method: "POST", Path: "/auth/password/forgot", Auth: Public, Handler: h.Accounts.Forgot,
			Doc: openapi.Doc{Tag: "Auth", Summary: "Ask for a password reset link",
				Description: "Answers 202 with the same message, in the same time, whether or not the account exists; an existing " +
					"account gets a mail with a one-time link (30 minutes; a newer link or any password change voids it). " +
					"Throttled per address (429) and, silently, per email. 503 when the server has no mail.",
				Body:      &openapi.Body{JSON: api.ForgotPasswordRequest{}},
				Responses: []openapi.Response{openapi.OK(202, "Accepted.", api.Accepted{})},
				Problems:  openapi.Statuses(openapi.BodyProblems, []int{429, 503})}},
		{Method: "POST", Path: "/auth/password/reset", Auth: Public, Handler: h.Accounts.Reset,
			Doc: openapi.Doc{Tag: "Auth", Summary: "Set a password with a link's token",
				Description: "The token of a reset or invitation link sets the password once; every session of the account ends. " +
					"A used, expired or replaced token answers 400.",
				Body:      &openapi.Body{JSON: api.ResetPasswordRequest{}},
				Responses: []openapi.Response{openapi.NoContent("The password is set.")},
				Problems:  openapi.BodyProblems}},

		// Users.
		{Method: "GET", Path: "/users/me", Auth: User, Scope: model.ScopeRead, Handler: h.Users.Me,
			Doc: openapi.Doc{Tag: "Users", Summary: "The signed-in user",
				Responses: []openapi.Response{openapi.OK(200, "The caller's account.", api.User{})},
				Problems:  openapi.UserProblems}},
		{Method: "PUT", Path: "/users/me", Auth: User, Handler: h.Users.UpdateMe,
			Doc: openapi.Doc{Tag: "Users", Summary: "Change email or password",
				Description: "current_password is required; a wrong one answers 403, and wrong ones count toward the " +
					"sign-in lock-out (429 with Retry-After). A password change signs out every other session of the user. " +
					"A taken email answers 409.",
				Body:      &openapi.Body{JSON: api.UpdateMeRequest{}},
				Responses: []openapi.Response{openapi.OK(200, "The updated account.", api.User{})},
				Problems:  openapi.Statuses(openapi.BodyProblems, []int{401, 403, 409, 429})}},
		{Method: "GET", Path: "/users/me/sessions", Auth: User, Handler: h.Users.Sessions,
			Doc: openapi.Doc{Tag: "Users", Summary: "The caller's sessions",
				Description: "Active sessions (refresh-token families); current marks the one making this request.",
				Responses:   []openapi.Response{openapi.OK(200, "The sessions.", api.SessionList{})},
				Problems:    openapi.UserProblems}},
		{Method: "DELETE", Path: "/users/me/sessions/{id}", Auth: User, Handler: h.Users.RevokeSession,
			Doc: openapi.Doc{Tag: "Users", Summary: "End one session",
				Description: "Revokes that session; its access tokens stop working at once. Another user's session id answers 404.",
				Params:      []openapi.Param{openapi.PathID("Session id.")},
				Responses:   []openapi.Response{openapi.NoContent("Session ended.")},
				Problems:    []int{401, 404}}},
		{Method: "DELETE", Path: "/users/me/sessions", Auth: User, Handler: h.Users.RevokeOtherSessions,
			Doc: openapi.Doc{Tag: "Users", Summary: "Sign out everywhere else",
				Responses: []openapi.Response{openapi.NoContent("Every session but the current one ended.")},
				Problems:  openapi.UserProblems}},
		{Method: "GET", Path: "/users/me/usage", Auth: User, Scope: model.ScopeRead, Handler: h.Budgets.Usage,
			Doc: openapi.Doc{Tag: "Users", Summary: "The caller's AI usage and budget",
				Description: "Spend (USD, OpenRouter's own cost) and tokens of the caller's AI calls in [from, to), by UTC day (oldest first) " +
					"and by model (the most expensive first), with this calendar month's budget: its limit, what is spent and reserved by calls " +
					"in flight, and when it resets. from defaults to the first of this month, to to the end of today; each takes a date " +
					"(YYYY-MM-DD) or an RFC 3339 time, at most 366 days apart.",
				Params: []openapi.Param{
					openapi.Query("from", "Start of the period (inclusive).", openapi.Schema{"type": "string", "examples": []string{"2026-01-01"}}),
					openapi.Query("to", "End of the period (exclusive).", openapi.Schema{"type": "string", "examples": []string{"2026-02-01"}})},
				Responses: []openapi.Response{openapi.OK(200, "The usage.", api.UserUsage{})},
				Problems:  []int{401, 403, 422}}},
		{Method: "POST", Path: "/users/me/api-keys", Auth: User, Handler: h.APIKeys.Create,
			Doc: openapi.Doc{Tag: "API keys", Summary: "Create an API key",
				Description: "The answer holds the secret (dg_ and 43 base62 characters) this once; only its hash is kept. Use it as " +
					"`Authorization: Bearer dg_…` on the endpoints its scopes allow: ai (models, chat, generation, /v1) and read " +
					"(GET /users/me, GET /users/me/usage). A key never reaches account management nor admin endpoints. " +
					"A user holds at most 50 live keys (409 beyond).",
				Body:      &openapi.Body{JSON: api.APIKeyRequest{}},
				Responses: []openapi.Response{openapi.OK(201, "The new key and its secret.", api.NewAPIKey{})},
				Problems:  openapi.Statuses(openapi.BodyProblems, []int{401, 403, 409})}},
		{Method: "GET", Path: "/users/me/api-keys", Auth: User, Handler: h.APIKeys.Mine,
			Doc: openapi.Doc{Tag: "API keys", Summary: "The caller's API keys",
				Description: "Live (not revoked) keys, newest first, without their secrets; last use is recorded within about ten seconds.",
				Params:      []openapi.Param{openapi.LimitParam, openapi.OffsetParam},
				Responses:   []openapi.Response{openapi.OK(200, "A page of keys.", api.APIKeyList{})},
				Problems:    []int{401, 403, 422}}},
		{Method: "DELETE", Path: "/users/me/api-keys/{id}", Auth: User, Handler: h.APIKeys.RevokeMine,
			Doc: openapi.Doc{Tag: "API keys", Summary: "Revoke an API key",
				Description: "The key stops working at once. Another user's key answers 404.",
				Params:      []openapi.Param{openapi.PathID("Key id.")},
				Responses:   []openapi.Response{openapi.NoContent("Revoked.")},
				Problems:    []int{401, 403, 404}}},
		{Method: "GET", Path: "/users", Auth: Admin, Handler: h.Users.List,
			Doc: openapi.Doc{Tag: "Users", Summary: "List users",
				Params: []openapi.Param{openapi.LimitParam, openapi.OffsetParam,
					openapi.Query("q", "Keep users whose email contains this text.", openapi.Schema{"type": "string"})},
				Responses: []openapi.Response{openapi.OK(200, "A page of users.", api.UserList{})},
				Problems:  openapi.Statuses(openapi.AdminProblems, []int{400, 422})}},
		{Method: "POST", Path: "/users", Auth: Admin, Handler: h.Accounts.CreateUser,
			Doc: openapi.Doc{Tag: "Users", Summary: "Create and invite a user",
				Description: "Creates the account without a password and invites its owner to choose one (a one-time link, 7 days): " +
					"mailed when mail is configured, otherwise returned once in invitation.url for the admin to hand over.",
				Body:      &openapi.Body{JSON: api.CreateUserRequest{}},
				Responses: []openapi.Response{openapi.OK(201, "The account and its invitation.", api.CreatedUser{})},
				Problems:  openapi.Statuses(openapi.BodyProblems, openapi.AdminProblems, []int{409})}},
		{Method: "POST", Path: "/users/{id}/password-reset", Auth: Admin, Handler: h.Accounts.ResetLink,
			Doc: openapi.Doc{Tag: "Users", Summary: "Issue a password reset link",
				Description: "A one-time link (a day) to set the user's password: mailed when mail is configured, otherwise returned once in url.",
				Params:      []openapi.Param{openapi.PathID("User id.")},
				Responses:   []openapi.Response{openapi.OK(200, "The link, or that it was sent.", api.AccountLink{})},
				Problems:    openapi.Statuses(openapi.AdminProblems, []int{404})}},
		{Method: "DELETE", Path: "/users/{id}/sessions", Auth: Admin, Handler: h.Accounts.SignOut,
			Doc: openapi.Doc{Tag: "Users", Summary: "Sign a user out everywhere",
				Params:    []openapi.Param{openapi.PathID("User id.")},
				Responses: []openapi.Response{openapi.NoContent("Every session of the user ended.")},
				Problems:  openapi.Statuses(openapi.AdminProblems, []int{404})}},
		{Method: "DELETE", Path: "/users/{id}", Auth: Admin, Handler: h.Users.Delete,
			Doc: openapi.Doc{Tag: "Users", Summary: "Delete a user",
				Description: "Ends the user's sessions. Deleting yourself answers 409.",
				Params:      []openapi.Param{openapi.PathID("User id.")},
				Responses:   []openapi.Response{openapi.NoContent("Deleted.")},
				Problems:    openapi.Statuses(openapi.AdminProblems, []int{404, 409})}},
		{Method: "PUT", Path: "/users/{id}/role", Auth: Admin, Handler: h.Users.SetRole,
			Doc: openapi.Doc{Tag: "Users", Summary: "Change a user's role",
				Description: "A role other than user or admin answers 422; demoting the last admin answers 409.",
				Params:      []openapi.Param{openapi.PathID("User id.")},
				Body:        &openapi.Body{JSON: api.RoleRequest{}},
				Responses:   []openapi.Response{openapi.OK(200, "The updated user.", api.User{})},
				Problems:    openapi.Statuses(openapi.BodyProblems, openapi.AdminProblems, []int{404, 409})}},

		{Method: "PUT", Path: "/users/{id}/budget", Auth: Admin, Handler: h.Budgets.SetBudget,
			Doc: openapi.Doc{Tag: "Users", Summary: "Set a user's monthly AI budget",
				Description: "monthly_usd is the user's spending limit per calendar month (UTC) in USD; 0 refuses them every AI call; " +
					"null applies AI_MONTHLY_BUDGET_USD again. A call that would start at or over the limit answers 402. Audited.",
				Params:    []openapi.Param{openapi.PathID("User id.")},
				Body:      &openapi.Body{JSON: api.BudgetRequest{}},
				Responses: []openapi.Response{openapi.OK(200, "The user's budget as it stands.", api.Budget{})},
				Problems:  openapi.Statuses(openapi.BodyProblems, openapi.AdminProblems, []int{404})}},

		// Admin.
		{Method: "GET", Path: "/admin/stats", Auth: Admin, Handler: h.Admin.Stats,
			Doc: openapi.Doc{Tag: "Admin", Summary: "Usage statistics",
				Description: "Users by role, refresh tokens by state, and AI generation calls of the last 24 hours by model.",
				Responses:   []openapi.Response{openapi.OK(200, "The statistics.", api.Stats{})},
				Problems:    openapi.AdminProblems}},
		{Method: "GET", Path: "/admin/health/db", Auth: Admin, Handler: h.Admin.DBHealth,
			Doc: openapi.Doc{Tag: "Admin", Summary: "Database health",
				Responses: []openapi.Response{openapi.OK(200, "The database answers.", api.DBHealth{}),
					openapi.OK(503, "The database does not answer.", api.DBHealth{})},
				Problems: openapi.AdminProblems}},
		{Method: "POST", Path: "/admin/tokens/purge", Auth: Admin, Handler: h.Admin.Purge,
			Doc: openapi.Doc{Tag: "Admin", Summary: "Purge dead refresh tokens",
				Responses: []openapi.Response{openapi.OK(200, "How many expired and revoked tokens were deleted.", api.PurgeResult{})},
				Problems:  openapi.AdminProblems}},
		{Method: "POST", Path: "/admin/backup", Auth: Admin, Handler: h.Admin.Backup,
			Doc: openapi.Doc{Tag: "Admin", Summary: "Back up the database",
				Description: "Writes a consistent snapshot of the database under BACKUP_DIR while serving (DuckDB). " +
					"On PostgreSQL it answers 501: back that database up with its own tools (pg_dump).",
				Responses: []openapi.Response{openapi.OK(200, "Where the snapshot was written.", api.BackupResult{})},
				Problems:  openapi.Statuses(openapi.AdminProblems, []int{409, 501, 503})}},
		{Method: "GET", Path: "/admin/audit", Auth: Admin, Handler: h.Admin.Audit,
			Doc: openapi.Doc{Tag: "Admin", Summary: "Audit trail",
				Description: "Sign-ins (successful and failed), registrations, lock-outs, resets and invitations, admin actions, role changes, " +
					"deletions, purges and session revocations, newest first. Each entry keeps the emails of its actor and target as they were.",
				Params: []openapi.Param{openapi.LimitParam, openapi.OffsetParam,
					openapi.Query("actor", "Keep entries by this actor (user id).", openapi.Schema{"type": "string"}),
					openapi.Query("email", "Keep entries whose actor's or target's email contains this text.", openapi.Schema{"type": "string"}),
					openapi.Query("action", "Keep entries of this action.", openapi.Schema{"type": "string", "examples": auditActions}),
					openapi.Query("since", "Keep entries at or after this time (RFC 3339).", openapi.Schema{"type": "string", "format": "date-time"}),
					openapi.Query("until", "Keep entries before this time (RFC 3339).", openapi.Schema{"type": "string", "format": "date-time"})},
				Responses: []openapi.Response{openapi.OK(200, "A page of the audit trail.", api.AuditList{})},
				Problems:  openapi.Statuses(openapi.AdminProblems, []int{400, 422})}},
		{Method: "GET", Path: "/admin/lockouts", Auth: Admin, Handler: h.Admin.Lockouts,
			Doc: openapi.Doc{Tag: "Admin", Summary: "Sign-in lock-outs",
				Description: "Lock-outs in force, the latest to end first: an email from one address (kind pair), " +
					"an email from everywhere (email), or one address whatever the email (ip).",
				Responses: []openapi.Response{openapi.OK(200, "The lock-outs.", api.LockoutList{})},
				Problems:  openapi.AdminProblems}},
		{Method: "DELETE", Path: "/admin/lockouts/{id}", Auth: Admin, Handler: h.Admin.LiftLockout,
			Doc: openapi.Doc{Tag: "Admin", Summary: "Lift a lock-out",
				Description: "Ends the lock-out and forgets its failures; audited.",
				Params:      []openapi.Param{openapi.PathID("Lock-out id, from GET /admin/lockouts.")},
				Responses:   []openapi.Response{openapi.NoContent("Lifted.")},
				Problems:    openapi.Statuses(openapi.AdminProblems, []int{404})}},
		{Method: "GET", Path: "/admin/usage", Auth: Admin, Handler: h.Admin.Usage,
			Doc: openapi.Doc{Tag: "Admin", Summary: "AI usage report",
				Description: "Upstream generation calls (chat, text, image, video submissions; successful or not) of the last days, " +
					"grouped by model, user or day (UTC), with tokens and OpenRouter's own cost. Records are written in batches, within about a second.",
				Params: []openapi.Param{
					openapi.Query("days", "How many days back.", openapi.Schema{"type": "integer", "minimum": 1, "maximum": 365, "default": 30}),
					openapi.Query("group_by", "Grouping of the rows.", openapi.Schema{"type": "string", "enum": []string{"model", "user", "day"}, "default": "model"})},
				Responses: []openapi.Response{openapi.OK(200, "The report.", api.UsageReport{})},
				Problems:  openapi.Statuses(openapi.AdminProblems, []int{400, 422})}},

		{Method: "GET", Path: "/admin/api-keys", Auth: Admin, Handler: h.APIKeys.All,
			Doc: openapi.Doc{Tag: "API keys", Summary: "Every user's API keys",
				Description: "Live keys of all users, newest first, without secrets.",
				Params:      []openapi.Param{openapi.LimitParam, openapi.OffsetParam},
				Responses:   []openapi.Response{openapi.OK(200, "A page of keys.", api.APIKeyList{})},
				Problems:    openapi.Statuses(openapi.AdminProblems, []int{422})}},
		{Method: "DELETE", Path: "/admin/api-keys/{id}", Auth: Admin, Handler: h.APIKeys.RevokeAny,
			Doc: openapi.Doc{Tag: "API keys", Summary: "Revoke any API key",
				Description: "The key stops working at once; audited.",
				Params:      []openapi.Param{openapi.PathID("Key id.")},
				Responses:   []openapi.Response{openapi.NoContent("Revoked.")},
				Problems:    openapi.Statuses(openapi.AdminProblems, []int{404})}},

		// AI.
		{Method: "GET", Path: "/ai/models", Auth: User, Scope: model.ScopeAI, Handler: h.AI.Models,
			Doc: openapi.Doc{Tag: "AI", Summary: "Available models",
				Description: "OpenRouter's models merged with its video models, optionally only those with one output modality.",
				Params: []openapi.Param{openapi.Query("modality", "Keep models with this output modality.",
					openapi.Schema{"type": "string", "enum": []string{api.ModalityText, api.ModalityImage, api.ModalityVideo}})},
				Responses: []openapi.Response{openapi.OK(200, "The models.", api.ModelList{})},
				Problems:  openapi.Statuses(openapi.AIProblems, []int{400, 422})}},
		{Method: "POST", Path: "/ai/chat", Auth: User, Scope: model.ScopeAI, Metered: true, Handler: h.AI.Chat,
			Doc: openapi.Doc{Tag: "AI", Summary: "Chat completion",
				Description: "Without stream, one JSON answer. With \"stream\": true, a text/event-stream of OpenAI-style " +
					"chat.completion.chunk events (see the ChatChunk schema) ending with `data: [DONE]`; an upstream failure after " +
					"the stream began arrives as an event `data: {\"error\": {\"code\", \"message\"}}` before [DONE].",
				Body: &openapi.Body{JSON: api.ChatRequest{}},
				Responses: []openapi.Response{
					openapi.OK(200, "The assistant's message, or the event stream when stream is true.", api.ChatResponse{}),
					{Status: 200, MediaType: "text/event-stream", AlsoJSON: true, Events: api.ChatChunk{}},
				},
				Problems: openapi.AIBodyProblems}},
		{Method: "POST", Path: "/generate/text", Auth: User, Scope: model.ScopeAI, Metered: true, Handler: h.AI.Text,
			Doc: openapi.Doc{Tag: "AI", Summary: "Generate text",
				Body:      &openapi.Body{JSON: api.TextRequest{}},
				Responses: []openapi.Response{openapi.OK(200, "The generated text.", api.TextResponse{})},
				Problems:  openapi.AIBodyProblems}},
		{Method: "POST", Path: "/generate/image", Auth: User, Scope: model.ScopeAI, Metered: true, Handler: h.AI.Image,
			Doc: openapi.Doc{Tag: "AI", Summary: "Generate images",
				Description: "aspect_ratio is checked against the model's capabilities (422 names the allowed values). Image URLs may be data: URLs.",
				Body:        &openapi.Body{JSON: api.ImageRequest{}},
				Responses:   []openapi.Response{openapi.OK(200, "The generated images.", api.ImageResponse{})},
				Problems:    openapi.Statuses(openapi.AIBodyProblems, []int{409})}},
		{Method: "GET", Path: "/generate/image", Auth: User, Scope: model.ScopeAI, Handler: h.AI.Images,
			Doc: openapi.Doc{Tag: "AI", Summary: "The caller's kept images",
				Description: "Generated images are kept (IMAGE_QUOTA_BYTES per user); newest first, with the storage used.",
				Params:      []openapi.Param{openapi.LimitParam, openapi.OffsetParam},
				Responses:   []openapi.Response{openapi.OK(200, "A page of images.", api.ImageList{})},
				Problems:    openapi.Statuses(openapi.UserProblems, []int{400, 422})}},
		{Method: "GET", Path: "/generate/image/{id}/content", Auth: User, Scope: model.ScopeAI, Handler: h.AI.ImageContent,
			Doc: openapi.Doc{Tag: "AI", Summary: "A kept image's bytes",
				Description: "The owner or an admin may read an image; anyone else gets 404.",
				Params:      []openapi.Param{openapi.PathID("Image id.")},
				Responses: []openapi.Response{{Status: 200, Description: "The image.", MediaType: "image/*",
					Raw: openapi.Schema{"type": "string", "contentMediaType": "image/*"}}},
				Problems: openapi.Statuses(openapi.UserProblems, []int{404})}},
		{Method: "DELETE", Path: "/generate/image/{id}", Auth: User, Scope: model.ScopeAI, Handler: h.AI.DeleteImage,
			Doc: openapi.Doc{Tag: "AI", Summary: "Delete a kept image",
				Params:    []openapi.Param{openapi.PathID("Image id.")},
				Responses: []openapi.Response{openapi.NoContent("Deleted.")},
				Problems:  openapi.Statuses(openapi.UserProblems, []int{404})}},
		{Method: "POST", Path: "/generate/video", Auth: User, Scope: model.ScopeAI, Metered: true, Handler: h.AI.Video,
			Doc: openapi.Doc{Tag: "AI", Summary: "Start a video generation",
				Description: "duration, resolution and aspect_ratio are checked against the model's capabilities (422 names the allowed values). Poll the job until it is terminal.",
				Body:        &openapi.Body{JSON: api.VideoRequest{}},
				Responses:   []openapi.Response{openapi.OK(202, "The job, accepted.", api.VideoJob{})},
				Problems:    openapi.AIBodyProblems}},
		{Method: "POST", Path: "/generate/video/from-image", Auth: User, Scope: model.ScopeAI, Metered: true, Handler: h.AI.VideoFromImage, MaxBody: limits.Image,
			Doc: openapi.Doc{Tag: "AI", Summary: "Start a video generation from an image",
				Description: "image_url is an https URL or a data: URL of a PNG, JPEG or WebP image (judged by its bytes, not its declared type) " +
					"of at most 5 MiB once decoded; this endpoint takes bodies up to MAX_IMAGE_BYTES (413 above). " +
					"The other parameters are checked as for POST /generate/video.",
				Body:      &openapi.Body{JSON: api.VideoFromImageRequest{}},
				Responses: []openapi.Response{openapi.OK(202, "The job, accepted.", api.VideoJob{})},
				Problems:  openapi.AIBodyProblems}},
		{Method: "GET", Path: "/generate/video", Auth: User, Scope: model.ScopeAI, Handler: h.AI.VideoJobs,
			Doc: openapi.Doc{Tag: "AI", Summary: "The caller's video jobs",
				Params:    []openapi.Param{openapi.LimitParam, openapi.OffsetParam},
				Responses: []openapi.Response{openapi.OK(200, "A page of jobs, newest first.", api.VideoJobList{})},
				Problems:  openapi.Statuses(openapi.UserProblems, []int{400, 422, 503})}},
		{Method: "GET", Path: "/generate/video/{id}", Auth: User, Scope: model.ScopeAI, Handler: h.AI.VideoJob,
			Doc: openapi.Doc{Tag: "AI", Summary: "A video job",
				Description: "The owner or an admin may read a job; anyone else gets 404.",
				Params:      []openapi.Param{openapi.PathID("Job id.")},
				Responses:   []openapi.Response{openapi.OK(200, "The job's current state.", api.VideoJob{})},
				Problems:    openapi.Statuses(openapi.AIProblems, []int{404})}},
		{Method: "GET", Path: "/generate/video/{id}/content", Auth: User, Scope: model.ScopeAI, Handler: h.AI.VideoContent,
			Doc: openapi.Doc{Tag: "AI", Summary: "A finished video",
				Description: "Streams the MP4 of a completed job (owner or admin). A job that is not completed answers 409.",
				Params:      []openapi.Param{openapi.PathID("Job id.")},
				Responses: []openapi.Response{{Status: 200, Description: "The video.", MediaType: "video/mp4",
					Raw: openapi.Schema{"type": "string", "contentMediaType": "video/mp4"}}},
				Problems: openapi.Statuses(openapi.AIProblems, []int{404, 409})}},
		// The workspace: conversations kept per user.
		{Method: "GET", Path: "/conversations", Auth: User, Scope: model.ScopeAI, Handler: h.Workspace.List,
			Doc: openapi.Doc{Tag: "Conversations", Summary: "The caller's conversations",
				Description: "Pinned ones first, then the most recently updated. q searches titles and message text.",
				Params: []openapi.Param{openapi.LimitParam, openapi.OffsetParam,
					openapi.Query("q", "Keep conversations whose title or messages contain this text.", openapi.Schema{"type": "string"})},
				Responses: []openapi.Response{openapi.OK(200, "A page of conversations.", api.ConversationList{})},
				Problems:  openapi.Statuses(openapi.UserProblems, []int{400, 422})}},
		{Method: "POST", Path: "/conversations", Auth: User, Scope: model.ScopeAI, Handler: h.Workspace.Create,
			Doc: openapi.Doc{Tag: "Conversations", Summary: "Start a conversation",
				Description: "All fields are optional; the title is made from the first exchange when it is empty.",
				Body:        &openapi.Body{JSON: api.NewConversationRequest{}},
				Responses:   []openapi.Response{openapi.OK(201, "The new conversation.", api.Conversation{})},
				Problems:    openapi.Statuses(openapi.BodyProblems, openapi.UserProblems)}},
		{Method: "GET", Path: "/conversations/{id}", Auth: User, Scope: model.ScopeAI, Handler: h.Workspace.Get,
			Doc: openapi.Doc{Tag: "Conversations", Summary: "A conversation with its messages",
				Description: "Only the owner reads a conversation; anyone else, admins included, gets 404.",
				Params:      []openapi.Param{openapi.PathID("Conversation id.")},
				Responses:   []openapi.Response{openapi.OK(200, "The conversation.", api.ConversationDetail{})},
				Problems:    openapi.Statuses(openapi.UserProblems, []int{404})}},
		{Method: "PATCH", Path: "/conversations/{id}", Auth: User, Scope: model.ScopeAI, Handler: h.Workspace.Update,
			Doc: openapi.Doc{Tag: "Conversations", Summary: "Rename, pin, or change the model or system prompt",
				Params:    []openapi.Param{openapi.PathID("Conversation id.")},
				Body:      &openapi.Body{JSON: api.ConversationPatch{}},
				Responses: []openapi.Response{openapi.OK(200, "The conversation.", api.Conversation{})},
				Problems:  openapi.Statuses(openapi.BodyProblems, openapi.UserProblems, []int{404})}},
		{Method: "DELETE", Path: "/conversations/{id}", Auth: User, Scope: model.ScopeAI, Handler: h.Workspace.Delete,
			Doc: openapi.Doc{Tag: "Conversations", Summary: "Delete a conversation",
				Params:    []openapi.Param{openapi.PathID("Conversation id.")},
				Responses: []openapi.Response{openapi.NoContent("Deleted, with its messages.")},
				Problems:  openapi.Statuses(openapi.UserProblems, []int{404})}},
		{Method: "POST", Path: "/conversations/{id}/messages", Auth: User, Scope: model.ScopeAI, Metered: true, Handler: h.Workspace.Send,
			Doc: openapi.Doc{Tag: "Conversations", Summary: "Send a message",
				Description: "Adds the caller's message and streams the answer exactly like POST /ai/chat with stream (ChatChunk " +
					"events, then [DONE]). The exchange is kept when the answer ends, also when the client goes away: then with " +
					"what arrived, marked cut_short. Nothing is kept when the answer cannot begin (the problem says why).",
				Params: []openapi.Param{openapi.PathID("Conversation id.")},
				Body:   &openapi.Body{JSON: api.SendMessageRequest{}},
				Responses: []openapi.Response{{Status: 200, Description: "Server-sent events: ChatChunk or [DONE].", MediaType: "text/event-stream",
					Raw: openapi.Schema{"type": "string"}}},
				Problems: openapi.Statuses(openapi.AIBodyProblems, []int{404, 409})}},
		{Method: "PUT", Path: "/conversations/{id}/messages/{messageId}", Auth: User, Scope: model.ScopeAI, Metered: true, Handler: h.Workspace.Edit,
			Doc: openapi.Doc{Tag: "Conversations", Summary: "Edit a message and continue from it",
				Description: "Replaces one of the caller's messages, drops every message after it, and streams a new answer (as POST …/messages).",
				Params: []openapi.Param{openapi.PathID("Conversation id."),
					{Name: "messageId", In: "path", Description: "Id of a user message.", Schema: openapi.Schema{"type": "string"}}},
				Body: &openapi.Body{JSON: api.EditMessageRequest{}},
				Responses: []openapi.Response{{Status: 200, Description: "Server-sent events: ChatChunk or [DONE].", MediaType: "text/event-stream",
					Raw: openapi.Schema{"type": "string"}}},
				Problems: openapi.Statuses(openapi.AIBodyProblems, []int{404, 409})}},
		{Method: "POST", Path: "/conversations/{id}/regenerate", Auth: User, Scope: model.ScopeAI, Metered: true, Handler: h.Workspace.Regenerate,
			Doc: openapi.Doc{Tag: "Conversations", Summary: "Regenerate the last answer",
				Description: "Replaces the last answer with a new one, streamed (as POST …/messages). The body is optional.",
				Params:      []openapi.Param{openapi.PathID("Conversation id.")},
				Body:        &openapi.Body{JSON: api.RegenerateRequest{}, Optional: true},
				Responses: []openapi.Response{{Status: 200, Description: "Server-sent events: ChatChunk or [DONE].", MediaType: "text/event-stream",
					Raw: openapi.Schema{"type": "string"}}},
				Problems: openapi.Statuses(openapi.AIBodyProblems, []int{404, 409})}},
		{Method: "GET", Path: "/conversations/{id}/export", Auth: User, Scope: model.ScopeAI, Handler: h.Workspace.Export,
			Doc: openapi.Doc{Tag: "Conversations", Summary: "Export a conversation",
				Description: "As Markdown (the default) or as JSON (the ConversationDetail shape), for download.",
				Params: []openapi.Param{openapi.PathID("Conversation id."),
					openapi.Query("format", "markdown or json.", openapi.Schema{"type": "string", "enum": []string{"markdown", "json"}, "default": "markdown"})},
				Responses: []openapi.Response{{Status: 200, Description: "The conversation as a file.", MediaType: "text/markdown",
					Raw: openapi.Schema{"type": "string"}}, {Status: 200, Description: "The conversation as a file.", JSON: api.ConversationDetail{}}},
				Problems: openapi.Statuses(openapi.UserProblems, []int{404, 422})}},

		// OpenAI-compatible.
		{Method: "GET", Path: "/v1/models", Auth: User, Scope: model.ScopeAI, OpenAI: true, Handler: h.OpenAI.Models,
			Doc: openapi.Doc{Tag: "OpenAI-compatible", Summary: "Models (OpenAI's shape)",
				Description: "The chat and image models, as OpenAI's GET /v1/models lists them. Set an OpenAI SDK's base URL to " +
					"this server's /v1 and its API key to a duckgate key (dg_…) or an access token.",
				Responses: []openapi.Response{openapi.OK(200, "The models.", api.OpenAIModelList{})},
				Problems:  []int{401, 403, 429, 502, 503, 504}}},
		{Method: "POST", Path: "/v1/chat/completions", Auth: User, Scope: model.ScopeAI, Metered: true, OpenAI: true,
			Handler: h.OpenAI.ChatCompletions, MaxBody: limits.Image,
			Doc: openapi.Doc{Tag: "OpenAI-compatible", Summary: "Chat completion (OpenAI's shape)",
				Description: "OpenAI's chat completions: messages with the roles system, developer, user, assistant and tool, content " +
					"as a string or content parts (text, image_url, input_audio, file), tools and tool_choice with the assistant's " +
					"tool_calls, response_format, max_tokens or max_completion_tokens, and the other members of CompletionRequest, " +
					"passed to OpenRouter as they are; any other member is refused (422 naming it), and n must be 1. `user` is " +
					"replaced by the gateway's pseudonym of the caller. Without stream, one chat.completion; with \"stream\": true, a " +
					"text/event-stream of chat.completion.chunk events ending with `data: [DONE]` (the usage chunk only with " +
					"stream_options.include_usage); a failure after the stream began arrives as an event in OpenAI's error envelope. " +
					"Failures use OpenAI's envelope {\"error\": {\"message\", \"type\", \"param\", \"code\"}} with the statuses of " +
					"the rest of the API: 402 when the monthly budget is spent, 429 with Retry-After over the request rate. " +
					"Bodies may hold images as data: URLs, up to MAX_IMAGE_BYTES.",
				Body: &openapi.Body{JSON: api.CompletionRequest{}},
				Responses: []openapi.Response{
					openapi.OK(200, "The completion, or the event stream when stream is true.", api.Completion{}),
					{Status: 200, MediaType: "text/event-stream", AlsoJSON: true, Events: api.CompletionChunk{}},
				},
				Problems: openapi.AIBodyProblems}},
		{Method: "POST", Path: "/v1/images/generations", Auth: User, Scope: model.ScopeAI, Metered: true, OpenAI: true,
			Handler: h.OpenAI.ImageGenerations,
			Doc: openapi.Doc{Tag: "OpenAI-compatible", Summary: "Generate an image (OpenAI's shape)",
				Description: "OpenAI's image generation over OpenRouter's: one image (n: 1) answered as b64_json; size picks the aspect " +
					"ratio (1024x1024 is 1:1, 1792x1024 16:9, …), checked against the model's. Other members are refused.",
				Body:      &openapi.Body{JSON: api.ImageGenerationRequest{}},
				Responses: []openapi.Response{openapi.OK(200, "The image.", api.ImagesResponse{})},
				Problems:  openapi.AIBodyProblems}},

		// The docs page's scripts and styles.
		{Method: "GET", Path: "/docs/{asset...}", Auth: Public, Handler: ops.docs, Hidden: true},
	}
	for i := range table {
		if table[i].MaxBody == 0 {
			table[i].MaxBody = limits.Default
		}
	}
	return table
}

// loginForm is the OAuth2 password-flow body of POST /auth/login (RFC 6749, 4.3.2).
var loginForm = openapi.Schema{
	"type":     "object",
	"required": []string{"username", "password"},
	"properties": openapi.Schema{
		"grant_type": openapi.Schema{"type": "string", "enum": []string{"password"}},
		"username":   openapi.Schema{"type": "string", "description": "The account's email."},
		"password":   openapi.Schema{"type": "string", "format": "password"},
		"scope":      openapi.Schema{"type": "string", "description": "Ignored."},
	},
}

var auditActions = []string{
	api.AuditLoginFailed, api.AuditLockout, api.AuditFamilyRevoked, api.AuditPasswordChange,
	api.AuditEmailChange, api.AuditRoleChange, api.AuditUserDeleted, api.AuditTokensPurged,
	api.AuditUserCreated, api.AuditBackup, api.AuditRefreshRetried, api.AuditLockoutLifted, api.AuditLoginSucceeded,
	api.AuditRegistered, api.AuditResetRequested, api.AuditPasswordReset, api.AuditInvitationAccepted, api.AuditUserInvited,
	api.AuditResetLinkIssued, api.AuditSessionsRevokedByAdmin,
	api.AuditKeyCreated, api.AuditKeyRevoked, api.AuditAdminKeyRevoked, api.AuditBudgetSet,
}
