package models

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The external accounts of SPEC.md.
const (
	ImportAccount = "importSharedAudience"
	ExportAccount = "exportSharedAudience"
)

// ExternalAccounts lists the account names in display order.
var ExternalAccounts = []string{ImportAccount, ExportAccount}

// ExternalAccount says where a technical workflow finds the audience library.
type ExternalAccount struct {
	Name         string `gorm:"primaryKey"`
	Mode         string // embedded or remote
	BaseURL      string
	TokenSealed  string `json:"-"`
	APIKeySealed string `json:"-"`
	UpdatedBy    string
	UpdatedAt    time.Time
}

// TableName tells GORM where external accounts live.
func (ExternalAccount) TableName() string { return "external_accounts" }

// Remote reports whether the account points at a remote library.
func (a *ExternalAccount) Remote() bool { return a.Mode == "remote" }

// HasToken and HasAPIKey report whether secrets are stored, for masking.
func (a *ExternalAccount) HasToken() bool { return a.TokenSealed != "" }

// HasAPIKey reports whether an API key is stored.
func (a *ExternalAccount) HasAPIKey() bool { return a.APIKeySealed != "" }

// ExternalAccountByName loads one account.
func (s *Store) ExternalAccountByName(ctx context.Context, name string) (*ExternalAccount, error) {
	var a ExternalAccount
	if err := s.q(ctx).Where("name = ?", name).First(&a).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("external account %q", name))
	}
	return &a, nil
}

// ListExternalAccounts returns both accounts.
func (s *Store) ListExternalAccounts(ctx context.Context) ([]*ExternalAccount, error) {
	var out []*ExternalAccount
	err := s.q(ctx).Order("name DESC").Find(&out).Error
	return out, err
}

// ExternalAccountInput is the form: secrets left empty keep the stored ones.
type ExternalAccountInput struct {
	Mode        string
	BaseURL     string
	Token       string
	APIKey      string
	ClearAPIKey bool
}

// ValidateRemoteURL checks a remote library's base URL.
func ValidateRemoteURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return Invalid("baseUrl", "enter the library's address, such as https://library.example.com")
	}
	return nil
}

// UpdateExternalAccount saves an account; secrets are sealed with box.
func (s *Store) UpdateExternalAccount(ctx context.Context, actor Actor, box *SecretBox, name string, in ExternalAccountInput) (*ExternalAccount, error) {
	in.BaseURL = strings.TrimRight(strings.TrimSpace(in.BaseURL), "/")
	in.Token, in.APIKey = strings.TrimSpace(in.Token), strings.TrimSpace(in.APIKey)
	var a *ExternalAccount
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if a, err = tx.ExternalAccountByName(ctx, name); err != nil {
			return err
		}
		var v ValidationErrors
		switch in.Mode {
		case "embedded":
		case "remote":
			if err := ValidateRemoteURL(in.BaseURL); err != nil {
				v.Add("baseUrl", "enter the library's address, such as https://library.example.com")
			}
			if in.Token == "" && !a.HasToken() {
				v.Add("token", "enter the bearer token the remote library gave you")
			}
		default:
			v.Add("mode", "choose Embedded or Remote")
		}
		if len(in.Token) > 4096 || len(in.APIKey) > 4096 {
			v.Add("token", "a token or API key has at most 4096 characters")
		}
		if err := v.Err(); err != nil {
			return err
		}
		before := map[string]any{"mode": a.Mode, "baseUrl": a.BaseURL, "token": mask(a.HasToken()), "apiKey": mask(a.HasAPIKey())}
		a.Mode, a.BaseURL = in.Mode, in.BaseURL
		if in.Token != "" {
			if a.TokenSealed, err = box.Seal(in.Token); err != nil {
				return err
			}
		}
		if in.ClearAPIKey {
			a.APIKeySealed = ""
		} else if in.APIKey != "" {
			if a.APIKeySealed, err = box.Seal(in.APIKey); err != nil {
				return err
			}
		}
		a.UpdatedBy, a.UpdatedAt = actor.Name, tx.Now()
		if err := tx.q(ctx).Save(a).Error; err != nil {
			return fmt.Errorf("save external account: %w", err)
		}
		after := map[string]any{"mode": a.Mode, "baseUrl": a.BaseURL, "token": mask(a.HasToken()), "apiKey": mask(a.HasAPIKey())}
		if in.Token != "" {
			after["token"] = "changed"
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "externalAccount.update", TargetType: "externalAccount", TargetID: name,
			TargetLabel: name, Summary: fmt.Sprintf("Set %s to the %s library", name, a.Mode), Before: before, After: after})
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func mask(set bool) string {
	if set {
		return "set"
	}
	return "none"
}
