package web_test

import (
	"context"
	"net/http"
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
