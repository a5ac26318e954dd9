package models_test

import (
	"context"
	"errors"
	"testing"

	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

// FuzzConditions feeds arbitrary query conditions (as the API and the Query
// dialog receive them) to the compiler on a real database: each is either
// refused with a validation error naming the problem, or runs — a value can
// never change the SQL (no syntax error, no other failure).
func FuzzConditions(f *testing.F) {
	for _, seed := range []string{
		`[{"field":"email","op":"endsWith","value":"@shop.example"}]`,
		`[{"field":"email","op":"contains","value":"' OR 1=1 --"}]`,
		`[{"field":"firstName","op":"equals","value":"x'); DROP TABLE recipients; --"}]`,
		`[{"field":"visitorId","op":"contains","value":"%_\\"}]`,
		`[{"field":"createdAt","op":"before","value":"2026-01-01"}]`,
		`[{"field":"list","op":"inList","value":"1 OR 1=1"}]`,
		`[{"field":"crmId","op":"isEmpty"}]`,
		`[{"field":"recipients.id; --","op":"equals","value":"1"}]`,
		`[]`, `{}`, `[{}]`, `null`,
	} {
		f.Add(seed)
	}
	store := dbtest.New(f)
	ctx := context.Background()
	if _, err := store.CreateRecipient(ctx, models.RecipientInput{Email: "ada@shop.example", FirstName: "Ada", VisitorIDs: []string{"12345678901234567890123456789012345678"}}); err != nil {
		f.Fatal(err)
	}
	if _, err := store.CreateList(ctx, models.SystemActor("fuzz"), models.ListInput{Label: "One"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		conds, err := models.ParseConditions(raw)
		if err != nil {
			return
		}
		_, err = store.CountTargets(ctx, conds)
		var ve *models.ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("conditions %s: %v", raw, err)
		}
		if n, err := store.CountTargets(ctx, nil); err != nil || n != 1 {
			t.Fatalf("the recipients table changed: %d, %v", n, err)
		}
	})
}
