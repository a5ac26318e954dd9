package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

func TestAPITokens(t *testing.T) {
	srv := webtest.Start(t)
	op := srv.Operator(t, "mia", models.RoleMarketer)
	token := srv.Token(t, op)
	c := srv.Client(t)
	var body map[string]string
	r := c.API(http.MethodGet, "/api/v1/nothing-here", "", nil)
	r.JSON(t, &body)
	if r.Status != http.StatusUnauthorized || !strings.Contains(body["error"], "Authorization: Bearer") {
		t.Fatalf("no token = %d %s", r.Status, r.Body)
	}
	r = c.API(http.MethodGet, "/api/v1/nothing-here", "ab_forged", nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("forged token = %d", r.Status)
	}
	r = c.API(http.MethodGet, "/api/v1/nothing-here", token, nil)
	if r.Status != http.StatusNotFound {
		t.Fatalf("valid token on an unknown route = %d %s", r.Status, r.Body)
	}
	tokens, err := srv.Store.ListAPITokens(context.Background(), op.ID)
	if err != nil || len(tokens) != 1 || tokens[0].LastUsedAt == nil || strings.Contains(tokens[0].TokenHash, token) {
		t.Fatalf("tokens = %+v %v", tokens, err)
	}
	if err := srv.Store.RevokeAPIToken(context.Background(), models.ActorOf(op), op.ID, tokens[0].ID); err != nil {
		t.Fatal(err)
	}
	if r := c.API(http.MethodGet, "/api/v1/nothing-here", token, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked token = %d", r.Status)
	}
}

func TestTokensInTheConsole(t *testing.T) {
	srv := webtest.Start(t)
	c, op := srv.SignedIn(t, "mia", models.RoleMarketer, models.AudienceLibrary)
	c.Get("/account")
	bad := c.Post("/account/tokens", url.Values{"name": {"  "}})
	if bad.Status != http.StatusUnprocessableEntity || bad.Text(`[data-testid="error-name"]`) == "" {
		t.Fatalf("empty name = %d", bad.Status)
	}
	r := c.Post("/account/tokens", url.Values{"name": {"nightly <b>export</b>"}})
	token, _ := r.Doc.Find(`[data-testid="new-token-value"]`).Attr("value")
	if r.Status != http.StatusCreated || !strings.HasPrefix(token, models.TokenPrefix) {
		t.Fatalf("create = %d, token %q", r.Status, token)
	}
	if strings.Contains(r.Body, "<b>export</b>") {
		t.Error("token name not escaped")
	}
	// Shown once: the next visit lists it by its prefix only.
	again := c.Get("/account")
	if strings.Contains(again.Body, token) || again.Doc.Find(`[data-testid="token-row"]`).Length() != 1 {
		t.Fatalf("account page after creation shows the token or no row")
	}
	api := srv.Client(t)
	if r := api.API(http.MethodGet, "/api/v1/recipients", token, nil); r.Status != http.StatusOK {
		t.Fatalf("token from the console = %d", r.Status)
	}
	tokens, _ := srv.Store.ListAPITokens(context.Background(), op.ID)
	if r := c.Post(fmt.Sprintf("/account/tokens/%d/revoke", tokens[0].ID), nil); r.Status != http.StatusSeeOther {
		t.Fatalf("revoke = %d", r.Status)
	}
	if r := api.API(http.MethodGet, "/api/v1/recipients", token, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked token = %d", r.Status)
	}
	// Nobody revokes someone else's token.
	other, _ := srv.SignedIn(t, "eve", models.RoleMarketer)
	otherToken := srv.Token(t, op)
	all, _ := srv.Store.ListAPITokens(context.Background(), op.ID)
	other.Get("/account")
	if r := other.Post(fmt.Sprintf("/account/tokens/%d/revoke", all[0].ID), nil); r.Status != http.StatusNotFound {
		t.Fatalf("revoking another's token = %d", r.Status)
	}
	if r := api.API(http.MethodGet, "/api/v1/recipients", otherToken, nil); r.Status != http.StatusOK {
		t.Fatalf("the other token stopped working: %d", r.Status)
	}
}
