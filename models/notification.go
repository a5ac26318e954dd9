package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"gorm.io/gorm/clause"

	"audiencebridge/egress"
)

// NotificationKind says what a notification reports.
type NotificationKind string

// The kinds of notification.
const (
	// NotifyRunFailed: a sync run of the operator's list or workflow failed.
	NotifyRunFailed NotificationKind = "runFailed"
	// NotifyMatchRateDrop: the match rate of the operator's list fell
	// sharply since its previous run (MatchRateDropped).
	NotifyMatchRateDrop NotificationKind = "matchRateDrop"
)

// Notification is an item of an operator's bell.
type Notification struct {
	ID         int64
	OperatorID int64
	Kind       NotificationKind
	Title      string
	Body       string
	Href       string
	RunID      *int64
	CreatedAt  time.Time
	ReadAt     *time.Time
}

// TableName tells GORM where notifications live.
func (Notification) TableName() string { return "notifications" }

// Unread reports whether the operator has not read it yet.
func (n *Notification) Unread() bool { return n.ReadAt == nil }

// Webhook is an outgoing webhook: an operator's (the events of their
// notifications) or, with no operator, the global one (every event).
type Webhook struct {
	ID             int64
	OperatorID     *int64
	URL            string
	SecretSealed   string `json:"-"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastDeliveryAt *time.Time
	LastDelivery   string
}

// TableName tells GORM where webhooks live.
func (Webhook) TableName() string { return "webhooks" }

// WebhookSignatureHeader carries a webhook body's HMAC-SHA256, keyed with
// the webhook's secret, as sha256=<hex>.
const WebhookSignatureHeader = "X-AudienceBridge-Signature"

// WebhookPayload is the JSON body a webhook receives for an event.
type WebhookPayload struct {
	Event             NotificationKind `json:"event"`
	Title             string           `json:"title"`
	Body              string           `json:"body"`
	Href              string           `json:"href"`
	RunID             int64            `json:"runId"`
	RunStatus         RunStatus        `json:"runStatus"`
	ListID            *int64           `json:"listId,omitempty"`
	WorkflowID        *int64           `json:"workflowId,omitempty"`
	MatchRate         *float64         `json:"matchRate,omitempty"`
	PreviousMatchRate *float64         `json:"previousMatchRate,omitempty"`
	OccurredAt        time.Time        `json:"occurredAt"`
}

// WebhookEnqueuer queues the delivery of a body to a webhook inside the
// transaction that records the event, so an event is never half told.
type WebhookEnqueuer func(ctx context.Context, tx *Store, hook *Webhook, body string) error

// runEvent is what an ended run has to tell, and to whom.
type runEvent struct {
	owner   *int64
	payload WebhookPayload
}

// runEvent builds the event of an ended run: nil when there is nothing to
// tell (a success without a drop, a cancellation, a deleted list).
func (s *Store) runEvent(ctx context.Context, r *Run) (*runEvent, error) {
	p := WebhookPayload{RunID: r.ID, RunStatus: r.Status, ListID: r.ListID, WorkflowID: r.WorkflowID, Href: r.Href(), OccurredAt: s.Now()}
	if r.FinishedAt != nil {
		p.OccurredAt = *r.FinishedAt
	}
	var (
		owner *int64
		label string
	)
	switch {
	case r.ListID != nil:
		l, err := s.ListByID(ctx, *r.ListID)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		owner, label = l.CreatedBy, l.Label
	case r.WorkflowID != nil:
		w, err := s.WorkflowByID(ctx, *r.WorkflowID)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		owner, label = w.CreatedBy, w.Label
	default:
		return nil, nil
	}
	switch {
	case r.Status == RunFailed && r.WorkflowID != nil:
		p.Event, p.Title, p.Body = NotifyRunFailed, fmt.Sprintf("Workflow %q failed", label), r.Error
	case r.Status == RunFailed:
		p.Event, p.Title, p.Body = NotifyRunFailed, fmt.Sprintf("Sync of %q failed", label), r.Error
	case r.Status == RunSucceeded && r.Kind == ImportRun && r.ListID != nil:
		prev, err := s.PreviousSucceededRun(ctx, *r.ListID, r.ID)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		if !MatchRateDropped(prev, r) {
			return nil, nil
		}
		rate, before := r.MatchRate(), prev.MatchRate()
		p.Event, p.MatchRate, p.PreviousMatchRate = NotifyMatchRateDrop, &rate, &before
		p.Title = fmt.Sprintf("Match rate of %q fell from %.1f%% to %.1f%%", label, before*100, rate*100)
		p.Body = fmt.Sprintf("Run #%d matched %d of %d members with recipients; run #%d matched %d of %d. "+
			"Check the audience's identifiers and the list's data source.", r.ID, r.Reconciled, r.Received, prev.ID, prev.Reconciled, prev.Received)
	default:
		return nil, nil
	}
	return &runEvent{owner: owner, payload: p}, nil
}

// NotifyRun tells of an ended run: a failure, or a sharp drop of a list's
// match rate, becomes an unread notification for the owner of the list or
// workflow, and a delivery to the owner's webhook and the global one. It
// returns the notification, or nil when there is nothing to tell or its
// owner was already told.
func (s *Store) NotifyRun(ctx context.Context, r *Run, enqueue WebhookEnqueuer) (*Notification, error) {
	ev, err := s.runEvent(ctx, r)
	if err != nil || ev == nil {
		return nil, err
	}
	body, err := json.Marshal(ev.payload)
	if err != nil {
		return nil, fmt.Errorf("encode the webhook body: %w", err)
	}
	var out *Notification
	err = s.Tx(ctx, func(tx *Store) error {
		if ev.owner != nil {
			n := &Notification{OperatorID: *ev.owner, Kind: ev.payload.Event, Title: ev.payload.Title, Body: ev.payload.Body,
				Href: ev.payload.Href, RunID: &r.ID, CreatedAt: tx.Now()}
			res := tx.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(n)
			if res.Error != nil {
				return fmt.Errorf("record the notification: %w", res.Error)
			}
			if res.RowsAffected == 0 {
				return nil // told already, webhooks included
			}
			out = n
		}
		var hooks []*Webhook
		db := tx.q(ctx).Where("operator_id IS NULL")
		if ev.owner != nil {
			db = tx.q(ctx).Where("operator_id IS NULL OR operator_id = ?", *ev.owner)
		}
		if err := db.Order("id").Find(&hooks).Error; err != nil {
			return fmt.Errorf("find the webhooks: %w", err)
		}
		for _, h := range hooks {
			if err := enqueue(ctx, tx, h, string(body)); err != nil {
				return fmt.Errorf("queue the webhook call: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListNotifications returns one page of an operator's notifications,
// newest first.
func (s *Store) ListNotifications(ctx context.Context, operatorID int64, pr PageRequest) (Page[*Notification], error) {
	pr = pr.Normalize()
	db := s.q(ctx).Model(&Notification{}).Where("operator_id = ?", operatorID)
	var total int64
	if err := db.Count(&total).Error; err != nil {
		return Page[*Notification]{}, fmt.Errorf("count notifications: %w", err)
	}
	var out []*Notification
	if err := db.Order("id DESC").Limit(pr.PageSize).Offset(pr.Offset()).Find(&out).Error; err != nil {
		return Page[*Notification]{}, fmt.Errorf("list notifications: %w", err)
	}
	return NewPage(pr, total, out), nil
}

// UnreadNotifications counts an operator's unread notifications.
func (s *Store) UnreadNotifications(ctx context.Context, operatorID int64) (int64, error) {
	var n int64
	if err := s.q(ctx).Model(&Notification{}).Where("operator_id = ? AND read_at IS NULL", operatorID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count unread notifications: %w", err)
	}
	return n, nil
}

// MarkNotificationsRead marks every unread notification of an operator as
// read and returns how many were.
func (s *Store) MarkNotificationsRead(ctx context.Context, operatorID int64) (int64, error) {
	res := s.q(ctx).Model(&Notification{}).Where("operator_id = ? AND read_at IS NULL", operatorID).Update("read_at", s.Now())
	if res.Error != nil {
		return 0, fmt.Errorf("mark notifications read: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// ReadNotification marks one of an operator's notifications as read and
// returns it; another operator's is not found.
func (s *Store) ReadNotification(ctx context.Context, operatorID, id int64) (*Notification, error) {
	var n Notification
	if err := s.q(ctx).Where("id = ? AND operator_id = ?", id, operatorID).First(&n).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("notification #%d", id))
	}
	if n.ReadAt == nil {
		now := s.Now()
		if err := s.q(ctx).Model(&Notification{}).Where("id = ?", n.ID).Update("read_at", now).Error; err != nil {
			return nil, fmt.Errorf("mark notification #%d read: %w", id, err)
		}
		n.ReadAt = &now
	}
	return &n, nil
}

// MaxWebhookURLLength bounds a webhook's URL.
const MaxWebhookURLLength = 2000

// ValidWebhookURL checks a webhook URL: absolute http or https, nothing
// else (no file:, no javascript:, no relative path).
func ValidWebhookURL(raw string) error {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Invalid("url", "enter the URL that receives the notifications, e.g. https://hooks.example.com/audience-bridge")
	}
	if len(raw) > MaxWebhookURLLength {
		return Invalid("url", "use at most %d characters", MaxWebhookURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return Invalid("url", "enter an absolute http:// or https:// URL; other schemes are refused")
	}
	return nil
}

// CheckWebhookDestination refuses a webhook URL whose host is, or resolves
// to, an address the policy does not allow (loopback, private, link-local
// such as the cloud metadata service, multicast, unspecified), naming the
// url field. The sender checks the dialed address again on every call.
func CheckWebhookDestination(ctx context.Context, raw string, policy egress.Policy) error {
	if err := ValidWebhookURL(raw); err != nil {
		return err
	}
	err := policy.CheckURL(ctx, strings.TrimSpace(raw))
	var refused *egress.RefusedError
	switch {
	case errors.As(err, &refused):
		return Invalid("url", "enter a public address: %s, which the console does not call", refused)
	case err != nil:
		return Invalid("url", "enter an absolute http:// or https:// URL; other schemes are refused")
	}
	return nil
}

// webhookOwner is the audit target of a webhook.
func webhookOwner(operatorID *int64) (id, label string) {
	if operatorID == nil {
		return "global", "global webhook"
	}
	return fmt.Sprint(*operatorID), fmt.Sprintf("webhook of operator #%d", *operatorID)
}

// redactedURL is a URL as the audit log shows it: without credentials or
// query string, which may carry tokens.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// WebhookOf returns an operator's webhook (nil: the global one), or
// ErrNotFound.
func (s *Store) WebhookOf(ctx context.Context, operatorID *int64) (*Webhook, error) {
	var h Webhook
	db := s.q(ctx).Where("operator_id IS NULL")
	if operatorID != nil {
		db = s.q(ctx).Where("operator_id = ?", *operatorID)
	}
	if err := db.First(&h).Error; err != nil {
		return nil, notFound(err, "webhook")
	}
	return &h, nil
}

// WebhookByID loads a webhook.
func (s *Store) WebhookByID(ctx context.Context, id int64) (*Webhook, error) {
	var h Webhook
	if err := s.q(ctx).First(&h, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("webhook #%d", id))
	}
	return &h, nil
}

// webhookSecretPrefix starts every webhook secret, so a leaked one is easy
// to recognise.
const webhookSecretPrefix = "whsec_"

// SetWebhook sets the URL of an operator's webhook (nil: the global one)
// with a new signing secret, and returns the secret in clear: the only time
// it is available.
//
// The policy says which destinations are allowed; see
// CheckWebhookDestination.
func (s *Store) SetWebhook(ctx context.Context, actor Actor, box *SecretBox, operatorID *int64, rawURL string, policy egress.Policy) (string, *Webhook, error) {
	rawURL = strings.TrimSpace(rawURL)
	if err := CheckWebhookDestination(ctx, rawURL, policy); err != nil {
		return "", nil, err
	}
	raw, err := NewToken()
	if err != nil {
		return "", nil, err
	}
	secret := webhookSecretPrefix + raw
	sealed, err := box.Seal(secret)
	if err != nil {
		return "", nil, err
	}
	var out *Webhook
	err = s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		h, err := tx.WebhookOf(ctx, operatorID)
		var before any
		switch {
		case errors.Is(err, ErrNotFound):
			h = &Webhook{OperatorID: operatorID, CreatedAt: now}
		case err != nil:
			return err
		default:
			before = map[string]any{"url": redactedURL(h.URL)}
		}
		h.URL, h.SecretSealed, h.UpdatedAt, h.LastDelivery, h.LastDeliveryAt = rawURL, sealed, now, "", nil
		if err := tx.q(ctx).Save(h).Error; err != nil {
			return fmt.Errorf("save the webhook: %w", err)
		}
		id, label := webhookOwner(operatorID)
		out = h
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "webhook.set", TargetType: "webhook", TargetID: id, TargetLabel: label,
			Summary: "Set the " + label + " with a new secret", Before: before,
			After: map[string]any{"url": redactedURL(h.URL), "secret": "changed"}})
	})
	if err != nil {
		return "", nil, err
	}
	return secret, out, nil
}

// DeleteWebhook removes an operator's webhook (nil: the global one).
func (s *Store) DeleteWebhook(ctx context.Context, actor Actor, operatorID *int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		h, err := tx.WebhookOf(ctx, operatorID)
		if err != nil {
			return err
		}
		if err := tx.q(ctx).Delete(&Webhook{}, h.ID).Error; err != nil {
			return fmt.Errorf("delete the webhook: %w", err)
		}
		id, label := webhookOwner(operatorID)
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "webhook.delete", TargetType: "webhook", TargetID: id, TargetLabel: label,
			Summary: "Removed the " + label, Before: map[string]any{"url": redactedURL(h.URL)}})
	})
}

// RecordWebhookDelivery notes what the last delivery attempt met.
func (s *Store) RecordWebhookDelivery(ctx context.Context, id int64, outcome string) error {
	err := s.q(ctx).Model(&Webhook{}).Where("id = ?", id).
		Updates(map[string]any{"last_delivery_at": s.Now(), "last_delivery": outcome}).Error
	if err != nil {
		return fmt.Errorf("record the delivery of webhook #%d: %w", id, err)
	}
	return nil
}
