package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// APIToken is a personal token an operator uses for /api/v1 and /aam/v1.
// The token itself is shown once; only its hash is stored.
type APIToken struct {
	ID         int64
	OperatorID int64
	Name       string
	TokenHash  string `json:"-"`
	Prefix     string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// TableName tells GORM where tokens live.
func (APIToken) TableName() string { return "api_tokens" }

// Revoked reports whether the token no longer works.
func (t *APIToken) Revoked() bool { return t.RevokedAt != nil }

// TokenPrefix starts every API token, so a leaked one is easy to recognise.
const TokenPrefix = "ab_"

// MaxTokenNameLength bounds a token's name.
const MaxTokenNameLength = 64

// ErrBadToken is returned for a token that is unknown, revoked or belongs to
// a disabled operator.
var ErrBadToken = errors.New("the API token is unknown or revoked")

// CreateAPIToken makes a token for an operator and returns it in clear, the
// only time it is ever available.
func (s *Store) CreateAPIToken(ctx context.Context, actor Actor, operatorID int64, name string) (string, *APIToken, error) {
	name = strings.TrimSpace(name)
	var v ValidationErrors
	if name == "" {
		v.Add("name", "give the token a name that says where it is used")
	} else if utf8.RuneCountInString(name) > MaxTokenNameLength {
		v.Add("name", "use at most %d characters", MaxTokenNameLength)
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	raw, err := NewToken()
	if err != nil {
		return "", nil, err
	}
	token := TokenPrefix + raw
	t := &APIToken{OperatorID: operatorID, Name: name, TokenHash: hashToken(token), Prefix: token[:len(TokenPrefix)+6], CreatedAt: s.Now()}
	err = s.Tx(ctx, func(tx *Store) error {
		op, err := tx.OperatorByID(ctx, operatorID)
		if err != nil {
			return err
		}
		if err := tx.q(ctx).Create(t).Error; err != nil {
			return fmt.Errorf("store token: %w", err)
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "token.create", TargetType: "operator", TargetID: fmt.Sprint(op.ID),
			TargetLabel: op.Login, Summary: fmt.Sprintf("Created API token %q (%s…) for %s", t.Name, t.Prefix, op.Login)})
	})
	if err != nil {
		return "", nil, err
	}
	return token, t, nil
}

// ListAPITokens lists an operator's tokens, newest first.
func (s *Store) ListAPITokens(ctx context.Context, operatorID int64) ([]*APIToken, error) {
	var out []*APIToken
	err := s.q(ctx).Where("operator_id = ?", operatorID).Order("created_at DESC").Order("id DESC").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken ends one of an operator's tokens at once.
func (s *Store) RevokeAPIToken(ctx context.Context, actor Actor, operatorID, tokenID int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		var t APIToken
		if err := tx.q(ctx).Where("id = ? AND operator_id = ?", tokenID, operatorID).First(&t).Error; err != nil {
			return notFound(err, fmt.Sprintf("API token #%d", tokenID))
		}
		if t.Revoked() {
			return nil
		}
		if err := tx.q(ctx).Model(&APIToken{}).Where("id = ?", t.ID).Update("revoked_at", tx.Now()).Error; err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		op, err := tx.OperatorByID(ctx, operatorID)
		if err != nil {
			return err
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "token.revoke", TargetType: "operator", TargetID: fmt.Sprint(op.ID),
			TargetLabel: op.Login, Summary: fmt.Sprintf("Revoked API token %q (%s…) of %s", t.Name, t.Prefix, op.Login)})
	})
}

// TokenOperator returns the operator a bearer token acts as.
func (s *Store) TokenOperator(ctx context.Context, token string) (*Operator, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 128 {
		return nil, ErrBadToken
	}
	var t APIToken
	if err := s.q(ctx).Where("token_hash = ?", hashToken(token)).First(&t).Error; err != nil {
		if errors.Is(notFound(err, "token"), ErrNotFound) {
			return nil, ErrBadToken
		}
		return nil, fmt.Errorf("load token: %w", err)
	}
	if t.Revoked() {
		return nil, ErrBadToken
	}
	op, err := s.OperatorByID(ctx, t.OperatorID)
	if err != nil {
		return nil, err
	}
	if op.Disabled() {
		return nil, ErrBadToken
	}
	now := s.Now()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= touchEvery {
		if err := s.q(ctx).Model(&APIToken{}).Where("id = ?", t.ID).Update("last_used_at", now).Error; err != nil {
			return nil, fmt.Errorf("touch token: %w", err)
		}
	}
	return op, nil
}
