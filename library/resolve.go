package library

import (
	"context"
	"fmt"

	"audiencebridge/models"
)

// Resolver finds the library an external account (importSharedAudience or
// exportSharedAudience) points at: the embedded one, or a remote API.
type Resolver struct {
	Store    *models.Store
	Secrets  *models.SecretBox
	Embedded *Embedded
}

// For returns the library of an account.
func (r *Resolver) For(ctx context.Context, account string) (Library, error) {
	a, err := r.Store.ExternalAccountByName(ctx, account)
	if err != nil {
		return nil, err
	}
	if !a.Remote() {
		return r.Embedded, nil
	}
	token, err := r.Secrets.Open(a.TokenSealed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", account, err)
	}
	key, err := r.Secrets.Open(a.APIKeySealed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", account, err)
	}
	return NewRemote(RemoteConfig{BaseURL: a.BaseURL, Token: token, APIKey: key})
}

// Check reaches an account's library and says what it found.
func (r *Resolver) Check(ctx context.Context, account string) (string, error) {
	lib, err := r.For(ctx, account)
	if err != nil {
		return "", err
	}
	if remote, ok := lib.(*Remote); ok {
		return remote.Check(ctx)
	}
	sources, err := lib.DataSources(ctx)
	if err != nil {
		return "", err
	}
	page, err := lib.Segments(ctx, Query{PageSize: 1})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("the embedded library answers: %d data sources, %d segments", len(sources), page.Total), nil
}
