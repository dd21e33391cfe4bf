// Package budgets holds the limits on AI use: a monthly spending limit per
// user in USD (AI_MONTHLY_BUDGET_USD, overridden per user by admins), kept
// by reserving each call's estimated cost before it starts and settling it
// with the call's usage record; requests-per-minute limits per user and per
// API key; and the usage report a user sees of themself.
package budgets

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/duckgate/duckgate/backend/internal/auth"
	"github.com/duckgate/duckgate/backend/internal/httpx"
	"github.com/duckgate/duckgate/backend/internal/model"
	"github.com/duckgate/duckgate/shared/api"
)

// Store is what budgets need from storage.
type Store interface {
	UserByID(ctx context.Context, id uuid.UUID) (model.User, error)
	UserBudget(ctx context.Context, user uuid.UUID) (*float64, error)
	SetUserBudget(ctx context.Context, user uuid.UUID, monthlyUSD *float64, audit *model.Audit) error
	ReserveSpend(ctx context.Context, r model.Reservation, limitUSD float64) (model.Spend, error)
	ReleaseSpend(ctx context.Context, user, id uuid.UUID) error
	MonthSpend(ctx context.Context, user uuid.UUID, month time.Time) (model.Spend, error)
	UserUsage(ctx context.Context, user uuid.UUID, from, to time.Time) (model.UserUsage, error)
}

// Config sets the limits.
type Config struct {
	// DefaultUSD is every user's monthly limit unless overridden; nil: none.
	DefaultUSD *float64
	// RequestsPerMinute limits the AI calls of a user and of a key; 0: none.
	RequestsPerMinute int
	// ReservationTTL frees the reservation of a call that never settled;
	// longer than any call may take (AI_TIMEOUT).
	ReservationTTL time.Duration
	Now            func() time.Time
}

// Service applies the limits.
type Service struct {
	store   Store
	cfg     Config
	limiter limiter
}

// NewService wires the limits.
func NewService(st Store, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReservationTTL <= 0 {
		cfg.ReservationTTL = 10 * time.Minute
	}
	return &Service{store: st, cfg: cfg}
}

// limitOf is the user's limit in force (nil: none) and their override.
func (s *Service) limitOf(ctx context.Context, user uuid.UUID) (limit, override *float64, err error) {
	override, err = s.store.UserBudget(ctx, user)
	if err != nil {
		return nil, nil, fmt.Errorf("budgets: the user's budget: %w", err)
	}
	if override != nil {
		return override, override, nil
	}
	return s.cfg.DefaultUSD, nil, nil
}

// Reserve holds a call's estimated cost (estimate is asked only when a
// limit applies) against the user's month, or refuses the call with a
// *model.BudgetExceededError when the month's spend and the calls in
// flight already reach the limit. The returned id goes into the call's
// usage record, which settles it; uuid.Nil when no limit applies.
func (s *Service) Reserve(ctx context.Context, user uuid.UUID, estimate func() float64) (uuid.UUID, error) {
	limit, _, err := s.limitOf(ctx, user)
	if err != nil || limit == nil {
		return uuid.Nil, err
	}
	now := s.cfg.Now().UTC()
	r := model.Reservation{ID: uuid.Must(uuid.NewV7()), UserID: user, Month: model.MonthStart(now),
		ExpiresAt: now.Add(s.cfg.ReservationTTL)}
	if *limit > 0 {
		r.Amount = math.Max(estimate(), 0)
	}
	sp, err := s.store.ReserveSpend(ctx, r, *limit)
	if errors.Is(err, model.ErrOverBudget) {
		return uuid.Nil, &model.BudgetExceededError{LimitUSD: *limit, SpentUSD: sp.SpentUSD, ResetsAt: r.Month.AddDate(0, 1, 0)}
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("budgets: reserve: %w", err)
	}
	return r.ID, nil
}

// Release frees a reservation whose call left no usage record.
func (s *Service) Release(ctx context.Context, user, id uuid.UUID) {
	if id != uuid.Nil {
		_ = s.store.ReleaseSpend(ctx, user, id)
	}
}

// budget is the user's budget as it stands this month.
func (s *Service) budget(ctx context.Context, user uuid.UUID) (api.Budget, error) {
	limit, override, err := s.limitOf(ctx, user)
	if err != nil {
		return api.Budget{}, err
	}
	now := s.cfg.Now().UTC()
	sp, err := s.store.MonthSpend(ctx, user, now)
	if err != nil {
		return api.Budget{}, fmt.Errorf("budgets: month spend: %w", err)
	}
	return api.Budget{LimitUSD: limit, Override: override, DefaultUSD: s.cfg.DefaultUSD, SpentUSD: sp.SpentUSD,
		ReservedUSD: sp.ReservedUSD, ResetsAt: model.MonthStart(now).AddDate(0, 1, 0)}, nil
}

// maxUsageSpan bounds the period of one usage report.
const maxUsageSpan = 366 * 24 * time.Hour

// Usage reports the caller's use over [from, to): by day and model, with
// this month's budget. Empty from is the first of this month, empty to the
// end of today (UTC); both take a date (YYYY-MM-DD) or an RFC 3339 time.
func (s *Service) Usage(ctx context.Context, user uuid.UUID, rawFrom, rawTo string) (api.UserUsage, error) {
	now := s.cfg.Now().UTC()
	from, to := model.MonthStart(now), now.Truncate(24*time.Hour).Add(24*time.Hour)
	var fields model.Fields
	if rawFrom != "" {
		if t, ok := parseInstant(rawFrom); ok {
			from = t
		} else {
			fields.Add("from", "must be a date (YYYY-MM-DD) or an RFC 3339 time")
		}
	}
	if rawTo != "" {
		if t, ok := parseInstant(rawTo); ok {
			to = t
		} else {
			fields.Add("to", "must be a date (YYYY-MM-DD) or an RFC 3339 time")
		}
	}
	if len(fields) == 0 && (!to.After(from) || to.Sub(from) > maxUsageSpan) {
		fields.Add("to", "must be after from, by at most 366 days")
	}
	if err := fields.Err(); err != nil {
		return api.UserUsage{}, err
	}
	u, err := s.store.UserUsage(ctx, user, from, to)
	if err != nil {
		return api.UserUsage{}, fmt.Errorf("budgets: usage: %w", err)
	}
	out := api.UserUsage{From: from, To: to, ByDay: groups(u.ByDay), ByModel: groups(u.ByModel)}
	for _, g := range out.ByDay {
		out.Requests += g.Requests
		out.PromptTokens += g.PromptTokens
		out.CompletionTokens += g.CompletionTokens
		out.Cost += g.Cost
	}
	if out.Budget, err = s.budget(ctx, user); err != nil {
		return api.UserUsage{}, err
	}
	return out, nil
}

func parseInstant(v string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

func groups(rows []model.UsageRow) []api.UsageGroup {
	out := make([]api.UsageGroup, 0, len(rows))
	for _, r := range rows {
		out = append(out, api.UsageGroup{Key: r.Key, Requests: r.Requests, Errors: r.Errors, PromptTokens: r.PromptTokens,
			CompletionTokens: r.CompletionTokens, Cost: r.Cost})
	}
	return out
}

// maxMonthlyUSD bounds a budget override.
const maxMonthlyUSD = 1_000_000

// SetBudget sets or clears (nil) a user's monthly limit (admins).
func (s *Service) SetBudget(ctx context.Context, admin auth.Principal, rawID string, in api.BudgetRequest, requestID string) (api.Budget, error) {
	id, err := uuid.Parse(rawID)
	if err != nil {
		return api.Budget{}, model.ErrUserNotFound
	}
	if v := in.MonthlyUSD; v != nil && (math.IsNaN(*v) || *v < 0 || *v > maxMonthlyUSD) {
		return api.Budget{}, model.Invalid(model.Field("monthly_usd", "must be from 0 (no AI) to 1000000, or null for the default"))
	}
	detail := "monthly AI budget reset to the default"
	if in.MonthlyUSD != nil {
		detail = fmt.Sprintf("monthly AI budget set to $%.2f", *in.MonthlyUSD)
	}
	audit := &model.Audit{Action: api.AuditBudgetSet, ActorID: admin.UserID.String(), TargetID: id.String(), Detail: detail, RequestID: requestID}
	if err := s.store.SetUserBudget(ctx, id, in.MonthlyUSD, audit); errors.Is(err, model.ErrNotFound) {
		return api.Budget{}, model.ErrUserNotFound
	} else if err != nil {
		return api.Budget{}, fmt.Errorf("budgets: set: %w", err)
	}
	return s.budget(ctx, id)
}

// RateLimit admits a metered request (an AI generation call) within the
// requests-per-minute limits of its user and, for an API key, of the key
// (its own limit, or the default); 429 with Retry-After otherwise.
func (s *Service) RateLimit() gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.admit(auth.PrincipalOf(c)); err != nil {
			httpx.Abort(c, err)
			return
		}
		c.Next()
	}
}

func (s *Service) admit(p auth.Principal) error {
	perMinute := s.cfg.RequestsPerMinute
	if perMinute <= 0 && p.KeyRequestsPerMinute <= 0 {
		return nil
	}
	var buckets []bucket
	if perMinute > 0 {
		buckets = append(buckets, bucket{key: "u:" + p.UserID.String(), perMinute: perMinute})
	}
	if p.ViaKey() {
		keyLimit := perMinute
		if p.KeyRequestsPerMinute > 0 {
			keyLimit = p.KeyRequestsPerMinute
		}
		buckets = append(buckets, bucket{key: "k:" + p.KeyID.String(), perMinute: keyLimit})
	}
	wait, refused := s.limiter.allow(s.cfg.Now(), buckets...)
	if refused < 0 {
		return nil
	}
	per := "user"
	if buckets[refused].key[0] == 'k' {
		per = "API key"
	}
	return &model.RateLimitedError{Limit: buckets[refused].perMinute, Per: per, RetryAfter: wait}
}

// Handler serves GET /users/me/usage and PUT /users/{id}/budget.
type Handler struct{ svc *Service }

// NewHandler returns the HTTP face of svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Usage answers the caller's usage (GET /users/me/usage).
func (h *Handler) Usage(c *gin.Context) {
	out, err := h.svc.Usage(c.Request.Context(), auth.PrincipalOf(c).UserID, c.Query("from"), c.Query("to"))
	httpx.Respond(c, http.StatusOK, out, err)
}

// SetBudget sets a user's monthly limit (PUT /users/{id}/budget, admins).
func (h *Handler) SetBudget(c *gin.Context) {
	var in api.BudgetRequest
	if err := httpx.BindJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	out, err := h.svc.SetBudget(c.Request.Context(), auth.PrincipalOf(c), c.Param("id"), in, httpx.RequestIDOf(c))
	httpx.Respond(c, http.StatusOK, out, err)
}
