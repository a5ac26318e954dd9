package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Session is a signed-in operator's server-side session. Only a hash of its
// token is stored, so a copy of the database cannot be used to sign in.
type Session struct {
	IDHash     string `gorm:"primaryKey"`
	OperatorID int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	IP         string
	UserAgent  string
}

// TableName tells GORM where sessions live.
func (Session) TableName() string { return "sessions" }

// SessionPolicy says how long a session lives.
type SessionPolicy struct {
	// Idle ends a session nobody used for this long.
	Idle time.Duration
	// MaxAge ends a session this long after sign-in, however busy.
	MaxAge time.Duration
}

// ErrSessionExpired is returned for a session token that is unknown, expired,
// or belongs to a disabled operator.
var ErrSessionExpired = errors.New("session expired")

// touchEvery bounds how often a busy session's last-seen time is written, so
// browsing does not turn every page view into a database write.
const touchEvery = time.Minute

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a random 256-bit token, URL-safe.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CreateSession starts a session for an operator and returns its token.
func (s *Store) CreateSession(ctx context.Context, operatorID int64, policy SessionPolicy, ip, userAgent string) (string, error) {
	token, err := NewToken()
	if err != nil {
		return "", err
	}
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	now := s.Now()
	sess := Session{IDHash: hashToken(token), OperatorID: operatorID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(policy.MaxAge), IP: ip, UserAgent: userAgent}
	if err := s.q(ctx).Create(&sess).Error; err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return token, nil
}

// SessionOperator returns the operator of a live session and marks the
// session as used. An expired session is deleted.
func (s *Store) SessionOperator(ctx context.Context, token string, policy SessionPolicy) (*Operator, error) {
	var sess Session
	if err := s.q(ctx).Where("id_hash = ?", hashToken(token)).First(&sess).Error; err != nil {
		if errors.Is(notFound(err, "session"), ErrNotFound) {
			return nil, ErrSessionExpired
		}
		return nil, fmt.Errorf("load session: %w", err)
	}
	now := s.Now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > policy.Idle {
		if err := s.DeleteSession(ctx, token); err != nil {
			return nil, err
		}
		return nil, ErrSessionExpired
	}
	op, err := s.OperatorByID(ctx, sess.OperatorID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrSessionExpired
		}
		return nil, err
	}
	if op.Disabled() {
		return nil, ErrSessionExpired
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.q(ctx).Model(&Session{}).Where("id_hash = ?", sess.IDHash).Update("last_seen_at", now).Error; err != nil {
			return nil, fmt.Errorf("touch session: %w", err)
		}
	}
	return op, nil
}

// DeleteSession ends one session; ending an unknown one is not an error.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	if err := s.q(ctx).Where("id_hash = ?", hashToken(token)).Delete(&Session{}).Error; err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteOperatorSessions ends every session of an operator.
func (s *Store) DeleteOperatorSessions(ctx context.Context, operatorID int64) error {
	if err := s.q(ctx).Where("operator_id = ?", operatorID).Delete(&Session{}).Error; err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}

// CountOperatorSessions counts an operator's sessions, live or not yet pruned.
func (s *Store) CountOperatorSessions(ctx context.Context, operatorID int64) (int64, error) {
	var n int64
	err := s.q(ctx).Model(&Session{}).Where("operator_id = ?", operatorID).Count(&n).Error
	return n, err
}

// PruneSessions deletes sessions past their absolute expiry or idle limit.
func (s *Store) PruneSessions(ctx context.Context, policy SessionPolicy) error {
	now := s.Now()
	err := s.q(ctx).Where("expires_at < ? OR last_seen_at < ?", now, now.Add(-policy.Idle)).Delete(&Session{}).Error
	if err != nil {
		return fmt.Errorf("prune sessions: %w", err)
	}
	return nil
}
