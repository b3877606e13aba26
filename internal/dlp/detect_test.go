package dlp_test

import (
	"testing"

	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/dlp/secrets"
)

// detectors are the built-in detectors with the secret rule set.
func detectors(t testing.TB) []dlp.Detector {
	t.Helper()
	s, err := secrets.New()
	if err != nil {
		t.Fatal(err)
	}
	return append(dlp.Builtin(), s)
}

// found is every (type, value) the detectors report in text.
func found(ds []dlp.Detector, text string) map[string]string {
	out := map[string]string{}
	for _, s := range dlp.Scan(ds, text) {
		out[text[s.Start:s.End]] = s.Type
	}
	return out
}

func TestDetectors_FindEachType(t *testing.T) {
	ds := detectors(t)
	tests := []struct{ typ, value, text string }{
		{dlp.Card, "4111 1111 1111 1111", "my card is 4111 1111 1111 1111, thanks"},
		{dlp.Card, "4111111111111111", "card=4111111111111111"},
		{dlp.Card, "5500-0000-0000-0004", "Mastercard 5500-0000-0000-0004 exp 04/27"},
		{dlp.Card, "378282246310005", "amex 378282246310005."},
		{dlp.Card, "6011 1111 1111 1117", "discover: 6011 1111 1111 1117 0427"},
		{dlp.Card, "4222222222222", "old visa 4222222222222"},
		{dlp.IBAN, "DE89 3704 0044 0532 0130 00", "pay to DE89 3704 0044 0532 0130 00 today"},
		{dlp.IBAN, "GB82WEST12345698765432", "IBAN: GB82WEST12345698765432"},
		{dlp.IBAN, "FR1420041010050500013M02606", "FR1420041010050500013M02606"},
		{dlp.Email, "ada.moreau@example.co.uk", "write to ada.moreau@example.co.uk please"},
		{dlp.Phone, "+44 20 7946 0958", "call +44 20 7946 0958 after six"},
		{dlp.Phone, "(555) 123-4567", "office (555) 123-4567"},
		{dlp.Phone, "+1-202-555-0143", "cell: +1-202-555-0143"},
		{dlp.Secret, "AKIAIOSFODNN7QWERTYU", "aws_access_key_id = AKIAIOSFODNN7QWERTYU"},
		{dlp.Secret, "ghp_R8xk2mPq7Lz0Vw4Ny6Tb9Ce3Hf5Js1Ka8Dg2", "token ghp_R8xk2mPq7Lz0Vw4Ny6Tb9Ce3Hf5Js1Ka8Dg2 for the repo"},
		{dlp.Secret, "gh_q2V7kL9xR4mN8pT3wZ6bC1dF5gH0jK2sA7eY9uI4oP1", "use gh_q2V7kL9xR4mN8pT3wZ6bC1dF5gH0jK2sA7eY9uI4oP1 as key"},
		{dlp.Secret, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZGEiLCJyb2xlIjoiYWRtaW4ifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1mb3ItdGVzdHM",
			"Authorization: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZGEiLCJyb2xlIjoiYWRtaW4ifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1mb3ItdGVzdHM"},
		{dlp.Secret, "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA2b3xq9mP7vL4kR8sT1wY6zN0cF5hJ2gD9eK3aB7uV1iO4pQ8rS2t\n-----END RSA PRIVATE KEY-----",
			"here: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA2b3xq9mP7vL4kR8sT1wY6zN0cF5hJ2gD9eK3aB7uV1iO4pQ8rS2t\n-----END RSA PRIVATE KEY----- done"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.value[:8], func(t *testing.T) {
			got := found(ds, tt.text)
			if got[tt.value] != tt.typ {
				t.Errorf("in %q found %v, want %q as %s", tt.text, got, tt.value, tt.typ)
			}
		})
	}
}

// Realistic text that holds no card, IBAN, phone number or secret.
func TestDetectors_LeaveLookAlikesAlone(t *testing.T) {
	ds := detectors(t)
	for _, text := range []string{
		"card 4111 1111 1111 1112 (Luhn check fails)",
		"4111111111111112",
		"order 100023456789012 shipped",             // 15 digits, no issuer starts with 1
		"order #7700123456789 and #7700123456790",   // 13 digits, no issuer
		"ORD-2026-000123456 and ORD-2026-000123457", // order numbers with dashes
		"invoice 30000000000000000004",              // 20 digits: longer than any card
		"ref 41111111111111110",                     // 17 digits, Visa issues no 17-digit card
		"created 1733597487123 (unix ms)",
		"at 20261207185127",
		"2026-12-07T18:51:27Z",
		"2026-12-07 18:51:27.123456",
		"between 2026-09-01 and 2026-10-01",
		"tracking 1Z999AA10123456784",
		"ISBN 978-3-16-148410-0",
		"GB82WEST12345698765431",                            // mod-97 fails
		"DE89370400440532013000 is 22 chars but DE00 fails", // has a wrong check in the second
		"claim CLM-1001 on policy POL-500, payment PAY-9001",
		"server 192.168.100.200 port 8080, version 1.24.3",
		"amount 2500.00 EUR, premium 1200.00",
		"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"run_0f3c9a1e2b4d6f8a0c1e3b5d7f9a2c4e",
		"the quick brown fox, 42 times",
		"+1",
		"1111-1111-1111",
	} {
		got := found(ds, text)
		delete(got, "DE89370400440532013000") // the one true IBAN above
		if len(got) != 0 {
			t.Errorf("in %q found %v, want nothing", text, got)
		}
	}
}

func TestLuhnAndMod97(t *testing.T) {
	for _, tt := range []struct {
		d    string
		want bool
	}{{"4111111111111111", true}, {"4111111111111112", false}, {"79927398713", true}, {"", false}} {
		if got := dlp.Luhn(tt.d); got != tt.want {
			t.Errorf("Luhn(%q) = %v", tt.d, got)
		}
	}
	for _, tt := range []struct {
		s    string
		want bool
	}{{"GB82WEST12345698765432", true}, {"GB82WEST12345698765431", false}, {"DE89370400440532013000", true}, {"DE8937", false}} {
		if got := dlp.Mod97(tt.s); got != tt.want {
			t.Errorf("Mod97(%q) = %v", tt.s, got)
		}
	}
}
