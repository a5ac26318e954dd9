package library_test

import (
	"testing"

	"audiencebridge/library"
	"audiencebridge/library/librarytest"
	"audiencebridge/models/dbtest"
)

func TestEmbeddedLibraryContract(t *testing.T) {
	librarytest.Run(t, func(t *testing.T) library.Library { return library.NewEmbedded(dbtest.New(t)) })
}
