// Package admin serves the operators' endpoints: stats, database health,
// token purge and the audit trail.
package admin

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/duckgate/duckgate/backend/internal/background"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Store is what the admin endpoints need from storage.
type Store interface {
	RoleCounts(ctx context.Context) (map[string]int, error)
	TokenCounts(ctx context.Context) (map[string]int, error)
	Ping(ctx context.Context) (time.Duration, error)
	PurgeTokens(ctx context.Context, audit *model.Audit) (int, error)
	ListAudit(ctx context.Context, f model.AuditFilter) ([]model.Audit, int, error)
	Lockouts(ctx context.Context) ([]model.Lockout, error)
	LiftLockout(ctx context.Context, key string, audit *model.Audit) error
	AIStats(ctx context.Context, since time.Time) (model.AIStats, error)
	UsageReport(ctx context.Context, since time.Time, groupBy string) ([]model.UsageRow, error)
	WorkspaceCounts(ctx context.Context) (model.WorkspaceCounts, error)
	Backup(ctx context.Context, parent string) (model.Backup, error)
	PruneBackups(ctx context.Context, parent string, keep int) error
	AppendAudit(ctx context.Context, a *model.Audit) error
	// Engine names the storage engine ("duckdb", "postgres").
	Engine() string
	SchemaVersion(ctx context.Context) (int, error)
}

// Service computes admin views. Stats are cached for a few seconds and
// bounded by a timeout: a dashboard polling them must not eat into the
// writer's throughput (a looping stats query cost ~40% of it).
type Service struct {
	store    Store
	now      func() time.Time
	cacheFor time.Duration

	mu       sync.Mutex
	cached   api.Stats
	cachedAt time.Time

	backupDir string
}

// NewService wires the admin rules. Backups go under backupDir.
func NewService(st Store, backupDir string, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, now: now, cacheFor: 5 * time.Second, backupDir: backupDir}
}

// Stats counts users, refresh tokens and AI use.
func (s *Service) Stats(ctx context.Context) (api.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cachedAt.IsZero() && s.now().Sub(s.cachedAt) < s.cacheFor {
		return s.cached, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	roles, err := s.store.RoleCounts(ctx)
	if err != nil {
		return api.Stats{}, fmt.Errorf("admin: stats: %w", err)
	}
	tokens, err := s.store.TokenCounts(ctx)
	if err != nil {
		return api.Stats{}, fmt.Errorf("admin: stats: %w", err)
	}
	out := api.Stats{
		Users: api.UserStats{Total: roles[api.RoleAdmin] + roles[api.RoleUser],
			ByRole: api.RoleCounts{Admin: roles[api.RoleAdmin], User: roles[api.RoleUser]}},
		RefreshTokens: api.TokenStats{Active: tokens["active"], Rotated: tokens["rotated"],
			Revoked: tokens["revoked"], Expired: tokens["expired"]},
	}
	if out.AI, err = s.aiStats(ctx); err != nil {
		return api.Stats{}, err
	}
	w, err := s.store.WorkspaceCounts(ctx)
	if err != nil {
		return api.Stats{}, fmt.Errorf("admin: workspace counts: %w", err)
	}
	out.Workspace = api.WorkspaceStats{Conversations: w.Conversations, Messages: w.Messages, Images: w.Images, ImageBytes: w.ImageBytes}
	s.cached, s.cachedAt = out, s.now()
	return out, nil
}

// DBHealth pings the database.
func (s *Service) DBHealth(ctx context.Context) api.DBHealth {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	d, err := s.store.Ping(ctx)
	if err != nil {
		return api.DBHealth{Status: "error", Error: "the database did not answer", Engine: s.store.Engine()}
	}
	h := api.DBHealth{Status: "ok", LatencyMS: float64(d.Microseconds()) / 1000, Engine: s.store.Engine()}
	if v, err := s.store.SchemaVersion(ctx); err == nil {
		h.SchemaVersion = v
	}
	return h
}

// Purge deletes revoked and expired refresh tokens.
func (s *Service) Purge(ctx context.Context, actor, requestID string) (int, error) {
	n, err := s.store.PurgeTokens(ctx, &model.Audit{ActorID: actor, Action: api.AuditTokensPurged, RequestID: requestID})
	if err != nil {
		return n, fmt.Errorf("admin: purge: %w", err)
	}
	s.mu.Lock()
	s.cachedAt = time.Time{} // the counts just changed
	s.mu.Unlock()
	return n, nil
}

// Audit lists the audit trail.
func (s *Service) Audit(ctx context.Context, f model.AuditFilter) (api.AuditList, error) {
	items, total, err := s.store.ListAudit(ctx, f)
	if err != nil {
		return api.AuditList{}, fmt.Errorf("admin: audit: %w", err)
	}
	out := api.AuditList{Items: make([]api.AuditEntry, 0, len(items)), Total: total}
	for _, a := range items {
		out.Items = append(out.Items, api.AuditEntry{ID: a.ID.String(), At: a.At.UTC(), ActorID: a.ActorID, ActorEmail: a.ActorEmail,
			Action: a.Action, TargetID: a.TargetID, TargetEmail: a.TargetEmail, Detail: a.Detail, RequestID: a.RequestID})
	}
	return out, nil
}

// Backup writes a consistent snapshot of the database while it serves.
func (s *Service) Backup(ctx context.Context, actor, requestID string) (api.BackupResult, error) {
	b, err := s.store.Backup(ctx, s.backupDir)
	if err != nil {
		return api.BackupResult{}, fmt.Errorf("admin: backup: %w", err)
	}
	_ = s.store.AppendAudit(ctx, &model.Audit{ActorID: actor, Action: api.AuditBackup, RequestID: requestID,
		Detail: fmt.Sprintf("%s (%d bytes, schema %d)", b.Path, b.Bytes, b.SchemaVersion)})
	return api.BackupResult{Path: b.Path, At: b.At, Bytes: b.Bytes}, nil
}

// Names of the admin jobs among the replicas' background jobs.
const (
	BackupJob = "backup"
	PurgeJob  = "token-purge"
)

// ScheduleBackups takes a backup every interval and keeps the newest keep,
// on the replica runner lets lead the job, until the returned stop
// function is called (it waits for a backup in progress).
func (s *Service) ScheduleBackups(runner *background.Runner, interval time.Duration, keep int, logger *slog.Logger) (stop func()) {
	return runner.Every(BackupJob, interval, func(ctx context.Context) {
		res, err := s.Backup(ctx, "schedule", "")
		if err != nil {
			logger.Error("scheduled backup failed", "err", err)
			return
		}
		logger.Info("scheduled backup written", "path", res.Path, "bytes", res.Bytes)
		if err := s.store.PruneBackups(ctx, s.backupDir, keep); err != nil {
			logger.Warn("pruning old backups failed", "err", err)
		}
	})
}

// SchedulePurge deletes expired and revoked refresh tokens every interval
// (audited as done by "schedule"), on the replica runner lets lead the
// job, until the returned stop function is called.
func (s *Service) SchedulePurge(runner *background.Runner, interval time.Duration, logger *slog.Logger) (stop func()) {
	return runner.Every(PurgeJob, interval, func(ctx context.Context) {
		n, err := s.Purge(ctx, "schedule", "")
		if err != nil {
			if ctx.Err() == nil {
				logger.Error("scheduled token purge failed", "err", err)
			}
			return
		}
		logger.Info("scheduled token purge", "purged", n)
	})
}
