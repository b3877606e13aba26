package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

// algorithm binds a JWS "alg" to the only key type (and curve) it may be
// verified with, so a header can never pick the verification discipline.
type algorithm struct {
	jwa   jwa.SignatureAlgorithm
	kty   string
	curve elliptic.Curve // ECDSA only
}

// algorithms is the closed set of asymmetric algorithms an issuer may allow.
var algorithms = map[string]algorithm{
	"RS256": {jwa.RS256(), "RSA", nil},
	"RS384": {jwa.RS384(), "RSA", nil},
	"RS512": {jwa.RS512(), "RSA", nil},
	"PS256": {jwa.PS256(), "RSA", nil},
	"PS384": {jwa.PS384(), "RSA", nil},
	"PS512": {jwa.PS512(), "RSA", nil},
	"ES256": {jwa.ES256(), "EC", elliptic.P256()},
	"ES384": {jwa.ES384(), "EC", elliptic.P384()},
	"ES512": {jwa.ES512(), "EC", elliptic.P521()},
	"EdDSA": {jwa.EdDSA(), "OKP", nil},
}

// fits reports whether key k may verify signatures of algorithm a: the key
// type and curve must match, and a key that names its "alg" must name a.
func (a algorithm) fits(name string, k *publicKey) bool {
	if k.alg != "" && k.alg != name {
		return false
	}
	switch pub := k.raw.(type) {
	case *rsa.PublicKey:
		return a.kty == "RSA"
	case *ecdsa.PublicKey:
		return a.kty == "EC" && pub.Curve == a.curve
	case ed25519.PublicKey:
		return a.kty == "OKP"
	}
	return false
}
