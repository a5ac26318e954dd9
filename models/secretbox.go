package models

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// SecretBox seals secrets the console must use again (a remote library's
// token), with a key derived from the configured session secret: every
// process that shares the database is given the same secret.
type SecretBox struct{ aead cipher.AEAD }

// NewSecretBox derives the sealing key from secret.
func NewSecretBox(secret []byte) (*SecretBox, error) {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("audiencebridge external account secrets"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("secret box: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret box: %w", err)
	}
	return &SecretBox{aead: aead}, nil
}

// Seal encrypts a secret; "" stays "".
func (b *SecretBox) Seal(plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(plain), nil)), nil
}

// ErrSecretUnreadable is returned for a secret sealed with another key.
var ErrSecretUnreadable = errors.New("a stored secret cannot be read with this session secret: enter it again in Administration > External accounts")

// Open decrypts a sealed secret.
func (b *SecretBox) Open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", ErrSecretUnreadable
	}
	plain, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], nil)
	if err != nil {
		return "", ErrSecretUnreadable
	}
	return string(plain), nil
}
