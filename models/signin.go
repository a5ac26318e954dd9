package models

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Sign-in throttling: after this many failures within the window a login
// (or an address) is refused until the window has moved past them.
const (
	ThrottleWindow      = 15 * time.Minute
	MaxFailuresPerLogin = 5
	MaxFailuresPerIP    = 20
)

// ErrBadCredentials is returned for an unknown login or a wrong password; the
// two are not told apart so the sign-in form reveals no logins.
var ErrBadCredentials = errors.New("the login or the password is wrong")

// ErrOperatorDisabled is returned when a disabled operator signs in with the
// right password.
var ErrOperatorDisabled = errors.New("this operator is disabled: an administrator can enable it again in Administration > Operators")

// ThrottledError says for how long sign-in is refused.
type ThrottledError struct {
	RetryAfter time.Duration
	ByAddress  bool
}

func (e *ThrottledError) Error() string {
	minutes := int(math.Ceil(e.RetryAfter.Minutes()))
	if minutes < 1 {
		minutes = 1
	}
	who := "this login"
	if e.ByAddress {
		who = "your network address"
	}
	return fmt.Sprintf("too many failed sign-in attempts for %s: try again in %d minute%s, or ask an administrator to reset the password",
		who, minutes, map[bool]string{true: "", false: "s"}[minutes == 1])
}

type loginAttempt struct {
	ID        int64
	Login     string
	IP        string
	Succeeded bool
	At        time.Time
}

func (loginAttempt) TableName() string { return "login_attempts" }

// throttle returns how long sign-in stays refused for one key, or 0.
// A successful sign-in clears a login's failures, but not an address's:
// otherwise an attacker could reset the address limit with an account of
// their own.
func (s *Store) throttle(ctx context.Context, column, value string, max int, clearedBySuccess bool) (time.Duration, error) {
	now := s.Now()
	since := now.Add(-ThrottleWindow)
	if clearedBySuccess {
		var lastOK []time.Time
		if err := s.q(ctx).Model(&loginAttempt{}).Where(column+" = ? AND succeeded AND at > ?", value, since).
			Order("at DESC").Limit(1).Pluck("at", &lastOK).Error; err != nil {
			return 0, fmt.Errorf("read sign-in attempts: %w", err)
		}
		if len(lastOK) == 1 {
			since = lastOK[0]
		}
	}
	var failures []time.Time
	if err := s.q(ctx).Model(&loginAttempt{}).Where(column+" = ? AND NOT succeeded AND at > ?", value, since).
		Order("at DESC").Limit(max).Pluck("at", &failures).Error; err != nil {
		return 0, fmt.Errorf("read sign-in attempts: %w", err)
	}
	if len(failures) < max {
		return 0, nil
	}
	// Refused until the oldest of the last max failures leaves the window.
	return failures[max-1].Add(ThrottleWindow).Sub(now), nil
}

func (s *Store) recordAttempt(ctx context.Context, login, ip string, ok bool) error {
	if err := s.q(ctx).Create(&loginAttempt{Login: login, IP: ip, Succeeded: ok, At: s.Now()}).Error; err != nil {
		return fmt.Errorf("record sign-in attempt: %w", err)
	}
	return nil
}

// Authenticate checks a login and password from address ip, throttling
// repeated failures per login and per address, and records the attempt.
func (s *Store) Authenticate(ctx context.Context, login, password, ip string) (*Operator, error) {
	login = NormalizeLogin(login)
	if len(login) > MaxLoginLength || len(password) > MaxPasswordLength {
		return nil, ErrBadCredentials
	}
	if wait, err := s.throttle(ctx, "ip", ip, MaxFailuresPerIP, false); err != nil {
		return nil, err
	} else if wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait, ByAddress: true}
	}
	if wait, err := s.throttle(ctx, "login", login, MaxFailuresPerLogin, true); err != nil {
		return nil, err
	} else if wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	op, err := s.OperatorByLogin(ctx, login)
	hash := dummyHash
	if err == nil {
		hash = op.PasswordHash
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	match, herr := CheckPassword(hash, password)
	if herr != nil {
		return nil, fmt.Errorf("check password of %s: %w", login, herr)
	}
	ok := err == nil && match
	if err := s.recordAttempt(ctx, login, ip, ok); err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrBadCredentials
	}
	if op.Disabled() {
		return nil, ErrOperatorDisabled
	}
	now := s.Now()
	op.LastLoginAt = &now
	if err := s.q(ctx).Model(&Operator{}).Where("id = ?", op.ID).Update("last_login_at", now).Error; err != nil {
		return nil, fmt.Errorf("record sign-in: %w", err)
	}
	return op, nil
}

// PruneLoginAttempts forgets attempts older than a day.
func (s *Store) PruneLoginAttempts(ctx context.Context) error {
	if err := s.q(ctx).Where("at < ?", s.Now().Add(-24*time.Hour)).Delete(&loginAttempt{}).Error; err != nil {
		return fmt.Errorf("prune sign-in attempts: %w", err)
	}
	return nil
}
