package api

import "time"

// Stats is the body of GET /admin/stats.
type Stats struct {
	Users         UserStats  `json:"users"`
	RefreshTokens TokenStats `json:"refresh_tokens"`
	AI            AIStats    `json:"ai"`
	// Workspace counts kept conversations and images (never their contents).
	Workspace WorkspaceStats `json:"workspace"`
}

// UserStats counts users.
type UserStats struct {
	Total  int        `json:"total"`
	ByRole RoleCounts `json:"by_role"`
}

// RoleCounts counts users per role.
type RoleCounts struct {
	Admin int `json:"admin"`
	User  int `json:"user"`
}

// TokenStats counts refresh tokens by state.
type TokenStats struct {
	Active  int `json:"active"`
	Rotated int `json:"rotated"`
	Revoked int `json:"revoked"`
	Expired int `json:"expired"`
}

// AIStats summarises upstream generation calls.
type AIStats struct {
	Requests24h int          `json:"requests_24h"`
	ByModel     []ModelUsage `json:"by_model"`
}

// ModelUsage is the use of one model over the last 24 hours.
type ModelUsage struct {
	Model    string `json:"model"`
	Requests int    `json:"requests"`
	Tokens   int    `json:"tokens"`
}

// DBHealth is the body of GET /admin/health/db.
type DBHealth struct {
	Status    string  `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
	// Engine is the storage engine: "duckdb" (one process) or "postgres"
	// (several replicas).
	Engine string `json:"engine,omitempty"`
	// SchemaVersion is the database's schema version, when it answered.
	SchemaVersion int `json:"schema_version,omitempty"`
}

// PurgeResult is the body of POST /admin/tokens/purge.
type PurgeResult struct {
	Purged int `json:"purged"`
}

// AuditEntry is one record of the append-only audit trail.
type AuditEntry struct {
	ID          string    `json:"id"`
	At          time.Time `json:"at"`
	ActorID     string    `json:"actor_id,omitempty"`
	ActorEmail  string    `json:"actor_email,omitempty"` // as it was when the entry was written
	Action      string    `json:"action"`
	TargetID    string    `json:"target_id,omitempty"`
	TargetEmail string    `json:"target_email,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	RequestID   string    `json:"request_id,omitempty"`
}

// AuditList is a page of the audit trail, newest first.
type AuditList struct {
	Items []AuditEntry `json:"items"`
	Total int          `json:"total"`
}

// Audit actions.
const (
	AuditLoginFailed    = "auth.login_failed"
	AuditLockout        = "auth.lockout"
	AuditFamilyRevoked  = "auth.refresh_reuse_revoked"
	AuditRefreshRetried = "auth.refresh_retried"
	AuditLockoutLifted  = "admin.lockout_lifted"

	AuditLoginSucceeded         = "auth.login_succeeded"
	AuditRegistered             = "auth.registered"
	AuditResetRequested         = "auth.password_reset_requested"
	AuditPasswordReset          = "auth.password_reset"
	AuditInvitationAccepted     = "auth.invitation_accepted"
	AuditUserInvited            = "admin.user_invited"
	AuditResetLinkIssued        = "admin.password_reset_link"
	AuditSessionsRevokedByAdmin = "admin.sessions_revoked"
	AuditPasswordChange         = "user.password_changed"
	AuditEmailChange            = "user.email_changed"
	AuditRoleChange             = "admin.role_changed"
	AuditUserDeleted            = "admin.user_deleted"
	AuditTokensPurged           = "admin.tokens_purged" //nolint:gosec // an audit action name, not a credential
	AuditUserCreated            = "admin.user_created"
	AuditBackup                 = "admin.backup"
)

// BackupResult is the body of POST /admin/backup.
type BackupResult struct {
	Path  string    `json:"path"`
	At    time.Time `json:"at"`
	Bytes int64     `json:"bytes"`
}

// Health is the body of GET /healthz and GET /readyz.
type Health struct {
	Status  string            `json:"status"`
	Version string            `json:"version,omitempty"`
	Commit  string            `json:"commit,omitempty"`
	Checks  map[string]string `json:"checks,omitempty"`
}

// Lockout is a sign-in lock-out in force: too many wrong passwords for an
// email from one address (kind "pair"), for an email from everywhere
// ("email"), or from one address whatever the email ("ip").
type Lockout struct {
	ID          string    `json:"id"` // for DELETE /admin/lockouts/{id}
	Kind        string    `json:"kind"`
	Email       string    `json:"email,omitempty"`
	IP          string    `json:"ip,omitempty"`
	LockedUntil time.Time `json:"locked_until"`
}

// LockoutList is the body of GET /admin/lockouts, the latest to end first.
type LockoutList struct {
	Items []Lockout `json:"items"`
}
