package models

import (
	"context"
	"fmt"
)

// DemoOperator is an operator that demo mode creates, with its password so
// the console can print how to sign in.
type DemoOperator struct {
	Login        string
	Password     string
	Role         Role
	Entitlements []Entitlement
	Note         string
}

// DemoOperators are the operators of demo mode: one of each kind of rights
// the console tells apart.
var DemoOperators = []DemoOperator{
	{Login: "admin", Password: "admin-demo", Role: RoleAdmin, Entitlements: []Entitlement{AudienceLibrary, AAMAdmin},
		Note: "administrator with both entitlements"},
	{Login: "marketer", Password: "marketer-demo", Role: RoleMarketer, Entitlements: []Entitlement{AudienceLibrary},
		Note: "marketer with Audience library only"},
	{Login: "trainee", Password: "trainee-demo", Role: RoleMarketer,
		Note: "marketer with no entitlement"},
}

// SeedDemo creates the demo operators when the database has no operator at
// all, and reports whether it did. A database in use is never touched.
func (s *Store) SeedDemo(ctx context.Context) (bool, error) {
	n, err := s.CountOperators(ctx)
	if err != nil {
		return false, fmt.Errorf("count operators: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	actor := SystemActor("demo")
	err = s.Tx(ctx, func(tx *Store) error {
		for _, d := range DemoOperators {
			ents := make([]string, len(d.Entitlements))
			for i, e := range d.Entitlements {
				ents[i] = string(e)
			}
			if _, err := tx.CreateOperator(ctx, actor, OperatorInput{Login: d.Login, Name: demoName(d.Login), Role: string(d.Role),
				Password: d.Password, Entitlements: ents}); err != nil {
				return fmt.Errorf("create demo operator %s: %w", d.Login, err)
			}
		}
		return nil
	})
	return err == nil, err
}

func demoName(login string) string {
	switch login {
	case "admin":
		return "Ada Admin"
	case "marketer":
		return "Mia Marketer"
	}
	return "Theo Trainee"
}
