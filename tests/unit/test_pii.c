/* SPDX-License-Identifier: Apache-2.0
 *
 * test_pii: the recognizers, validators and redaction operators of
 * policy/pii/.  Tables of valid values and near misses per recognizer; the
 * expected span is given as the substring it must cover, so offsets are
 * checked exactly.  Every prefix of a sample is scanned from an exactly
 * sized heap copy so that ASan catches any read past len.  All fixtures are
 * synthetic (documentation ranges, test card numbers, invalid-area SSNs).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_buf.h"
#include "policy/pii/pii_redact.h"
#include "policy/pii/pii_scan.h"
#include "tests/unit/unit_main.h"

struct pos_case {
    const char *text;
    const char *value; /* the substring the single span must cover */
    enum pol_pii_label label;
};

struct neg_case {
    const char *text;
    enum pol_pii_label label; /* must not be found */
};

static const struct pos_case positives[] = {
    /* EMAIL */
    {"mail jane.doe@example.com now", "jane.doe@example.com", POL_PII_EMAIL},
    {"<a.b+tag@sub.example.co.uk>", "a.b+tag@sub.example.co.uk", POL_PII_EMAIL},
    {"written to bob@example.org.", "bob@example.org", POL_PII_EMAIL},
    {"caf\xc3\xa9 \xc3\xa9jane@example.fr", "jane@example.fr", POL_PII_EMAIL},
    {"x_y-z%1@mail-host.example.io, thanks", "x_y-z%1@mail-host.example.io", POL_PII_EMAIL},
    {"mailto:ops@example.net", "ops@example.net", POL_PII_EMAIL},
    {"\"first.last@example.com\"", "first.last@example.com", POL_PII_EMAIL},
    /* PHONE */
    {"call (415) 555-0132 today", "(415) 555-0132", POL_PII_PHONE},
    {"call (415)555-0132", "(415)555-0132", POL_PII_PHONE},
    {"415-555-0132", "415-555-0132", POL_PII_PHONE},
    {"at 415.555.0132.", "415.555.0132", POL_PII_PHONE},
    {"dial 1-415-555-0132 now", "1-415-555-0132", POL_PII_PHONE},
    {"+1 415 555 0132", "+1 415 555 0132", POL_PII_PHONE},
    {"office +44 20 7946 0958", "+44 20 7946 0958", POL_PII_PHONE},
    {"office +44 (0)20 7946 0958", "+44 (0)20 7946 0958", POL_PII_PHONE},
    {"Berlin +49 30 1234567", "+49 30 1234567", POL_PII_PHONE},
    {"e164 +14155550132.", "+14155550132", POL_PII_PHONE},
    {"415-555-0132 x123 is mine", "415-555-0132 x123", POL_PII_PHONE},
    {"415-555-0132 ext. 45", "415-555-0132 ext. 45", POL_PII_PHONE},
    {"my phone: 4155550132", "4155550132", POL_PII_PHONE},
    {"London 020 7946 0958", "020 7946 0958", POL_PII_PHONE},
    {"Paris 01 23 45 67 89.", "01 23 45 67 89", POL_PII_PHONE},
    {"tel 555-0132", "555-0132", POL_PII_PHONE},
    {"0044 20 7946 0958", "0044 20 7946 0958", POL_PII_PHONE},
    /* CREDIT_CARD */
    {"card 4111 1111 1111 1111 exp", "4111 1111 1111 1111", POL_PII_CREDIT_CARD},
    {"4111-1111-1111-1111", "4111-1111-1111-1111", POL_PII_CREDIT_CARD},
    {"pan=4111111111111111;", "4111111111111111", POL_PII_CREDIT_CARD},
    {"5500 0000 0000 0004", "5500 0000 0000 0004", POL_PII_CREDIT_CARD},
    {"2223 0031 2200 3222", "2223 0031 2200 3222", POL_PII_CREDIT_CARD},
    {"amex 3782 822463 10005", "3782 822463 10005", POL_PII_CREDIT_CARD},
    {"6011 1111 1111 1117", "6011 1111 1111 1117", POL_PII_CREDIT_CARD},
    {"jcb 3530 1113 3330 0000", "3530 1113 3330 0000", POL_PII_CREDIT_CARD},
    {"diners 3056 930902 5904", "3056 930902 5904", POL_PII_CREDIT_CARD},
    {"up 6200000000000005", "6200000000000005", POL_PII_CREDIT_CARD},
    {"4111 1111 1111 1111 12/29", "4111 1111 1111 1111", POL_PII_CREDIT_CARD},
    /* US_SSN */
    {"id 123-45-6789.", "123-45-6789", POL_PII_US_SSN},
    {"SSN 123 45 6789", "123 45 6789", POL_PII_US_SSN},
    {"ssn: 123456789", "123456789", POL_PII_US_SSN},
    {"social security number 078051120", "078051120", POL_PII_US_SSN},
    {"(899-99-9999)", "899-99-9999", POL_PII_US_SSN},
    /* IP_ADDRESS */
    {"from 192.168.1.10 today", "192.168.1.10", POL_PII_IP_ADDRESS},
    {"host 10.0.0.1:8080", "10.0.0.1", POL_PII_IP_ADDRESS},
    {"0.0.0.0", "0.0.0.0", POL_PII_IP_ADDRESS},
    {"net 10.0.0.0/8", "10.0.0.0", POL_PII_IP_ADDRESS},
    {"http://192.168.0.1/path", "192.168.0.1", POL_PII_IP_ADDRESS},
    {"route 2001:db8::/32", "2001:db8::", POL_PII_IP_ADDRESS},
    {"tel:+14155550132", "+14155550132", POL_PII_PHONE},
    {"+1 (415) 555-0132", "+1 (415) 555-0132", POL_PII_PHONE},
    {"toll free 1-800-555-0199.", "1-800-555-0199", POL_PII_PHONE},
    {"Jane.Doe@Example.COM", "Jane.Doe@Example.COM", POL_PII_EMAIL},
    {"at 255.255.255.255.", "255.255.255.255", POL_PII_IP_ADDRESS},
    {"v6 2001:db8::1 ok", "2001:db8::1", POL_PII_IP_ADDRESS},
    {"at 2001:db8::1.", "2001:db8::1", POL_PII_IP_ADDRESS},
    {"fe80::1ff:fe23:4567:890a", "fe80::1ff:fe23:4567:890a", POL_PII_IP_ADDRESS},
    {"mapped ::ffff:192.0.2.1 here", "::ffff:192.0.2.1", POL_PII_IP_ADDRESS},
    {"2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
     POL_PII_IP_ADDRESS},
    {"ip:fe80::1", "fe80::1", POL_PII_IP_ADDRESS},
    {"[2001:db8::2]:443", "2001:db8::2", POL_PII_IP_ADDRESS},
    {"ip ::1", "::1", POL_PII_IP_ADDRESS},
    {"after the update the server ip is 10.2.3.4", "10.2.3.4", POL_PII_IP_ADDRESS},
    /* IBAN: electronic and printed forms, several registry lengths */
    {"IBAN DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00", POL_PII_IBAN},
    {"pay to GB82WEST12345698765432 today", "GB82WEST12345698765432", POL_PII_IBAN},
    {"GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32", POL_PII_IBAN},
    {"FR1420041010050500013M02606", "FR1420041010050500013M02606", POL_PII_IBAN},
    {"NL91ABNA0417164300,", "NL91ABNA0417164300", POL_PII_IBAN},
    {"iban: BE68539007547034", "BE68539007547034", POL_PII_IBAN},
    {"NO9386011117947", "NO9386011117947", POL_PII_IBAN},
    {"(CH9300762011623852957)", "CH9300762011623852957", POL_PII_IBAN},
    /* URL */
    {"see https://example.com/a_(b).", "https://example.com/a_(b)", POL_PII_URL},
    {"(https://example.com/x)", "https://example.com/x", POL_PII_URL},
    {"visit www.example.co.uk/path?q=1, ok", "www.example.co.uk/path?q=1", POL_PII_URL},
    {"http://user:pw@host.example/x", "http://user:pw@host.example/x", POL_PII_URL},
    {"'https://a.example/c'", "https://a.example/c", POL_PII_URL},
    {"ftp://files.example.org/a.txt;", "ftp://files.example.org/a.txt", POL_PII_URL},
    {"[docs](https://docs.example.org/x#y)", "https://docs.example.org/x#y", POL_PII_URL},
    {"git+ssh://git.example.com:22/r.git!", "git+ssh://git.example.com:22/r.git", POL_PII_URL},
    /* DATE */
    {"born 1985-03-15", "1985-03-15", POL_PII_DATE},
    {"DOB: 03/15/1985", "03/15/1985", POL_PII_DATE},
    {"on 15.03.1985.", "15.03.1985", POL_PII_DATE},
    {"due 15/03/24", "15/03/24", POL_PII_DATE},
    {"on March 15, 2024 we", "March 15, 2024", POL_PII_DATE},
    {"15 March 2024", "15 March 2024", POL_PII_DATE},
    {"see you Mar 15th!", "Mar 15th", POL_PII_DATE},
    {"15th of March, 2024", "15th of March, 2024", POL_PII_DATE},
    {"leap 29.02.2024", "29.02.2024", POL_PII_DATE},
    {"Sept. 3, 1999", "Sept. 3, 1999", POL_PII_DATE},
    {"born in March 1985", "March 1985", POL_PII_DATE},
    {"1 Jan 2000", "1 Jan 2000", POL_PII_DATE},
    /* SECRET */
    {"key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", POL_PII_SECRET},
    {"ASIAY34FZKBOKMUTVV7A,", "ASIAY34FZKBOKMUTVV7A", POL_PII_SECRET},
    {"ghp_0123456789abcdefghijABCDEFGHIJ012345", "ghp_0123456789abcdefghijABCDEFGHIJ012345",
     POL_PII_SECRET},
    {"github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
     "github_pat_11ABCDEFG0123456789_abcdefghijklmnop", POL_PII_SECRET},
    {"glpat-abcdefghij0123456789", "glpat-abcdefghij0123456789", POL_PII_SECRET},
    {"xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij", POL_PII_SECRET},
    {"stripe sk_live_0123456789abcdef", "sk_live_0123456789abcdef", POL_PII_SECRET},
    {"rk_live_0123456789abcdef.", "rk_live_0123456789abcdef", POL_PII_SECRET},
    {"AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA1234567890abcdefghijklmnopqrstuv",
     POL_PII_SECRET},
    {"OPENAI_KEY sk-proj-abc123def456ghi789jkl012", "sk-proj-abc123def456ghi789jkl012",
     POL_PII_SECRET},
    {"password=Xk9#pQ2!vL7@mR4", "Xk9#pQ2!vL7@mR4", POL_PII_SECRET},
    {"{\"api_key\": \"a8f3k2j9d8s7f6g5h4j3\"}", "a8f3k2j9d8s7f6g5h4j3", POL_PII_SECRET},
    {"DB_PASSWORD: 'hunter2hunter2'", "hunter2hunter2", POL_PII_SECRET},
    {"auth_token = 9f8e7d6c5b4a39281716a5b4", "9f8e7d6c5b4a39281716a5b4", POL_PII_SECRET},
    {"aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", POL_PII_SECRET},
    {"Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     POL_PII_SECRET},
    {"key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n"
     "9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\nthanks",
     "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n"
     "9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----",
     POL_PII_SECRET},
    {"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n(truncated)",
     "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC", POL_PII_SECRET},
    /* context words */
    {"call me at 415 555 0132", "415 555 0132", POL_PII_PHONE},
    {"phone: (555) 123-4567", "(555) 123-4567", POL_PII_PHONE},
    {"call 015-155-0132", "015-155-0132", POL_PII_PHONE},
    {"001-415-555-0132x123", "001-415-555-0132x123", POL_PII_PHONE},
    {"maestro 6759 6498 2643 8453", "6759 6498 2643 8453", POL_PII_CREDIT_CARD},
    {"5018 0000 0000 0009", "5018 0000 0000 0009", POL_PII_CREDIT_CARD},
    {"jcb 213100000000001", "213100000000001", POL_PII_CREDIT_CARD},
};

static const struct neg_case negatives[] = {
    /* EMAIL */
    {"a@b", POL_PII_EMAIL},
    {"user@localhost", POL_PII_EMAIL},
    {"user@example.c", POL_PII_EMAIL},
    {"user@example", POL_PII_EMAIL},
    {"@example.com", POL_PII_EMAIL},
    {"user@-bad.com", POL_PII_EMAIL},
    {"user@bad-.com", POL_PII_EMAIL},
    {"x..y@example.com", POL_PII_EMAIL},
    {"user@example.c0m", POL_PII_EMAIL},
    {"user.@example.com", POL_PII_EMAIL},
    /* PHONE */
    {"back in 2023 we", POL_PII_PHONE},
    {"it costs $1,299.99 now", POL_PII_PHONE},
    {"it costs 1299999.99 now", POL_PII_PHONE},
    {"order 123456789", POL_PII_PHONE},
    {"order 4155550132 shipped", POL_PII_PHONE},
    {"version 1.2.3.4", POL_PII_PHONE},
    {"version 10.15.7.2019", POL_PII_PHONE},
    {"4111 1111 1111 1111", POL_PII_PHONE},
    {"4111-1111-1111-1111", POL_PII_PHONE},
    {"123-45-6789", POL_PII_PHONE},
    {"192.168.10.12", POL_PII_PHONE},
    {"2024-01-15", POL_PII_PHONE},
    {"12:30:45", POL_PII_PHONE},
    {"ISBN 978-3-16-148410-0", POL_PII_PHONE},
    {"+12345", POL_PII_PHONE},
    {"1234567", POL_PII_PHONE},
    {"555-0132", POL_PII_PHONE},
    {"115-555-0132", POL_PII_PHONE},
    {"(555) 123-4567", POL_PII_PHONE}, /* invalid exchange, no context word */
    {"415-155-0132", POL_PII_PHONE},
    {"415-555-01322", POL_PII_PHONE},
    {"a415-555-0132", POL_PII_PHONE},
    {"9-415-555-0132-7", POL_PII_PHONE},
    {"12.34.56.78.90", POL_PII_PHONE},
    {"from 2019-2023", POL_PII_PHONE},
    {"<Buffer 01 02 03 04 05 06 07 08>", POL_PII_PHONE},
    {"dump 00 05 64 69 66 66 09 0a", POL_PII_PHONE},
    {"0040 0027 00D0 0131 0000 0100 0000 0000", POL_PII_PHONE},
    {"'+00000000'", POL_PII_PHONE},
    {"Boston, MA 02110-1301, USA", POL_PII_PHONE},
    {"12/25/2024 10:30", POL_PII_PHONE},
    {"ref 0 1 2 3 4 5 6 7 8 9", POL_PII_PHONE},
    /* CREDIT_CARD */
    {"4111 1111 1111 1112", POL_PII_CREDIT_CARD},
    {"9111 1111 1111 1111", POL_PII_CREDIT_CARD},
    {"41111111111111111111", POL_PII_CREDIT_CARD},
    {"x4111111111111111", POL_PII_CREDIT_CARD},
    {"14111111111111111", POL_PII_CREDIT_CARD},
    {"4111111111111111-2", POL_PII_CREDIT_CARD},
    {"4111  1111 1111 1111", POL_PII_CREDIT_CARD},
    {"4111 1111-1111 1111", POL_PII_CREDIT_CARD},
    {"4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", POL_PII_CREDIT_CARD},
    {"4111-1111-1111-1111-12", POL_PII_CREDIT_CARD},
    /* US_SSN */
    {"000-12-3456", POL_PII_US_SSN},
    {"666-12-3456", POL_PII_US_SSN},
    {"900-12-3456", POL_PII_US_SSN},
    {"999-12-3456", POL_PII_US_SSN},
    {"123-00-4567", POL_PII_US_SSN},
    {"123-45-0000", POL_PII_US_SSN},
    {"ref 123456789", POL_PII_US_SSN},
    {"123-45-67890", POL_PII_US_SSN},
    {"1123-45-6789", POL_PII_US_SSN},
    {"123-45 6789", POL_PII_US_SSN},
    {"12-345-6789", POL_PII_US_SSN},
    /* IP_ADDRESS */
    {"256.1.1.1", POL_PII_IP_ADDRESS},
    {"1.2.3.4.5", POL_PII_IP_ADDRESS},
    {"v 1.2.3.4.5 released", POL_PII_IP_ADDRESS},
    {"01.2.3.4", POL_PII_IP_ADDRESS},
    {"1.2.3", POL_PII_IP_ADDRESS},
    {"1.2.3.4a", POL_PII_IP_ADDRESS},
    {"1.2.3.4-5", POL_PII_IP_ADDRESS},
    {"x1.2.3.4", POL_PII_IP_ADDRESS},
    {"This was fixed in version 1.5.4.1.", POL_PII_IP_ADDRESS},
    {"Git 1.8.1.6 Release Notes", POL_PII_IP_ADDRESS},
    {"see Section 6.1.7.1 of the RFC", POL_PII_IP_ADDRESS},
    {"Policy 0.12.0.0 documentation", POL_PII_IP_ADDRESS},
    {"key AF:A2:8B:B9:33:AD:DA:AC", POL_PII_IP_ADDRESS},
    {"12:30:45", POL_PII_IP_ADDRESS},
    {"00:1a:2b:3c:4d:5e", POL_PII_IP_ADDRESS},
    {"std::vector", POL_PII_IP_ADDRESS},
    {"a::b", POL_PII_IP_ADDRESS},
    {"1:2:3:4:5:6:7:8:9", POL_PII_IP_ADDRESS},
    {"2001:db8::g1", POL_PII_IP_ADDRESS},
    {"::", POL_PII_IP_ADDRESS},
    /* IBAN */
    {"DE89370400440532013001", POL_PII_IBAN},     /* bad check digits */
    {"DE89 3704 0044 0532 0130 0", POL_PII_IBAN}, /* too short for DE */
    {"DE8937040044053201300012", POL_PII_IBAN},   /* too long for DE */
    {"ZZ89370400440532013000", POL_PII_IBAN},     /* no such country */
    {"DE89 37040044 0532 0130 00", POL_PII_IBAN}, /* broken grouping */
    {"de89370400440532013000", POL_PII_IBAN},     /* lower case */
    {"xDE89370400440532013000", POL_PII_IBAN},
    /* URL */
    {"a://b", POL_PII_URL},
    {"C://Users", POL_PII_URL},
    {"www.example", POL_PII_URL},
    {"the www. prefix", POL_PII_URL},
    {"http://", POL_PII_URL},
    {"mailto:jane@example.com", POL_PII_URL},
    {"std::string", POL_PII_URL},
    /* DATE */
    {"version 1.2.3", POL_PII_DATE},
    {"at 10:30", POL_PII_DATE},
    {"in 2023", POL_PII_DATE},
    {"Feb 30, 2024", POL_PII_DATE},
    {"29.02.2023", POL_PII_DATE},
    {"May I help", POL_PII_DATE},
    {"march 5 miles", POL_PII_DATE},
    {"13/13/2024", POL_PII_DATE},
    {"2024-13-01", POL_PII_DATE},
    {"v1.12.2024.3", POL_PII_DATE},
    {"192.168.10.12", POL_PII_DATE},
    {"1-2-3", POL_PII_DATE},
    {"12345", POL_PII_DATE},
    {"expires 12/29", POL_PII_DATE},
    {"2024-03-15T10:22:31Z", POL_PII_DATE},
    {"Mar 32", POL_PII_DATE},
    {"March 2024 sales", POL_PII_DATE},
    /* SECRET */
    {"AKIAIOSFODNN7EXAMPL", POL_PII_SECRET}, /* 19 characters */
    {"AKIAIOSFODNN7EXAMPLEX", POL_PII_SECRET},
    {"ghp_short", POL_PII_SECRET},
    {"sk-learn is a library", POL_PII_SECRET},
    {"xoxb-", POL_PII_SECRET},
    {"eyJub3QiOiJhIGp3dCJ9.eyJ4IjoxfQ.sig", POL_PII_SECRET}, /* header without "alg" */
    {"password = get_password()", POL_PII_SECRET},
    {"token: ${TOKEN}", POL_PII_SECRET},
    {"password: ********", POL_PII_SECRET},
    {"password=<password>", POL_PII_SECRET},
    {"password == other", POL_PII_SECRET},
    {"token = self.token", POL_PII_SECRET},
    {"max_tokens: 512", POL_PII_SECRET},
    {"api_key = aaaaaaaaaaaaaaaaaaaa", POL_PII_SECRET},
    {"secret: short", POL_PII_SECRET},
    {"password: null", POL_PII_SECRET},
    {"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", POL_PII_SECRET}, /* no context */
    {"-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC\n-----END PUBLIC KEY-----",
     POL_PII_SECRET},
    {"the secret to success is patience", POL_PII_SECRET},
};

static void
scan_str(const char *text, unsigned labels, struct pol_pii_spans *out)
{
    ck_assert_int_eq(pol_pii_scan(text, strlen(text), labels, out), CM_OK);
}

START_TEST(test_positive)
{
    const struct pos_case *c = &positives[_i];
    const char *v = strstr(c->text, c->value);
    struct pol_pii_spans s;

    ck_assert_ptr_nonnull(v);
    pol_pii_spans_init(&s);
    scan_str(c->text, POL_PII_ALL, &s);
    ck_assert_msg(s.n == 1, "case %d \"%s\": %zu spans (want 1)", _i, c->text, s.n);
    ck_assert_msg(s.v[0].label == c->label, "case %d \"%s\": label %s, want %s", _i, c->text,
                  pol_pii_label_name(s.v[0].label), pol_pii_label_name(c->label));
    ck_assert_msg(s.v[0].start == (size_t)(v - c->text) &&
                      s.v[0].end == (size_t)(v - c->text) + strlen(c->value),
                  "case %d \"%s\": span [%zu,%zu), want [%zu,%zu)", _i, c->text, s.v[0].start,
                  s.v[0].end, (size_t)(v - c->text), (size_t)(v - c->text) + strlen(c->value));
    ck_assert(s.v[0].score >= 0.5f && s.v[0].score <= 1.0f);
    pol_pii_spans_fini(&s);
}
END_TEST

START_TEST(test_negative)
{
    const struct neg_case *c = &negatives[_i];
    struct pol_pii_spans s;

    pol_pii_spans_init(&s);
    scan_str(c->text, POL_PII_ALL, &s);
    for (size_t k = 0; k < s.n; k++)
        ck_assert_msg(s.v[k].label != c->label, "case %d \"%s\": found %s at [%zu,%zu)", _i,
                      c->text, pol_pii_label_name(c->label), s.v[k].start, s.v[k].end);
    pol_pii_spans_fini(&s);
}
END_TEST

START_TEST(test_luhn_ssn_validators)
{
    ck_assert(pol_pii_luhn_ok("4111111111111111", 16));
    ck_assert(pol_pii_luhn_ok("79927398713", 11));
    ck_assert(!pol_pii_luhn_ok("4111111111111112", 16));
    ck_assert(!pol_pii_luhn_ok("4111x11111111111", 16));
    ck_assert(!pol_pii_luhn_ok("0", 1));
    ck_assert(pol_pii_ssn_ok("123456789"));
    ck_assert(pol_pii_ssn_ok("899999999"));
    ck_assert(!pol_pii_ssn_ok("000123456"));
    ck_assert(!pol_pii_ssn_ok("666123456"));
    ck_assert(!pol_pii_ssn_ok("900123456"));
    ck_assert(!pol_pii_ssn_ok("123004567"));
    ck_assert(!pol_pii_ssn_ok("123450000"));
    ck_assert(!pol_pii_ssn_ok("12345678a"));
}
END_TEST

START_TEST(test_labels)
{
    enum pol_pii_label l;

    for (unsigned k = 0; k < POL_PII__COUNT; k++) {
        const char *n = pol_pii_label_name((enum pol_pii_label)k);

        ck_assert_int_eq(pol_pii_label_parse(n, strlen(n), &l), CM_OK);
        ck_assert_int_eq(l, k);
    }
    ck_assert_str_eq(pol_pii_label_name(POL_PII_US_SSN), "US_SSN");
    ck_assert_int_eq(pol_pii_label_parse("email", 5, &l), CM_EINPUT);
    ck_assert_int_eq(pol_pii_label_parse("EMAILX", 6, &l), CM_EINPUT);
    ck_assert_int_eq(pol_pii_label_parse("EMAIL", 4, &l), CM_EINPUT);
}
END_TEST

/* Several values in one text: sorted, exact, nothing else. */
START_TEST(test_many_sorted)
{
    const char *t = "Hi, I'm at jane@example.com or (415) 555-0132; card 4111 1111 1111 1111, "
                    "SSN 123-45-6789, from 203.0.113.7 and 2001:db8::7.";
    static const struct {
        const char *v;
        enum pol_pii_label l;
    } want[] = {
        {"jane@example.com", POL_PII_EMAIL},          {"(415) 555-0132", POL_PII_PHONE},
        {"4111 1111 1111 1111", POL_PII_CREDIT_CARD}, {"123-45-6789", POL_PII_US_SSN},
        {"203.0.113.7", POL_PII_IP_ADDRESS},          {"2001:db8::7", POL_PII_IP_ADDRESS},
    };
    struct pol_pii_spans s;

    pol_pii_spans_init(&s);
    scan_str(t, POL_PII_ALL, &s);
    ck_assert_uint_eq(s.n, CM_ARRAY_LEN(want));
    for (size_t k = 0; k < s.n; k++) {
        size_t st = (size_t)(strstr(t, want[k].v) - t);

        ck_assert_int_eq(s.v[k].label, want[k].l);
        ck_assert_uint_eq(s.v[k].start, st);
        ck_assert_uint_eq(s.v[k].end, st + strlen(want[k].v));
        if (k > 0)
            ck_assert_uint_ge(s.v[k].start, s.v[k - 1].end);
    }
    /* a label mask restricts the scan; spans are appended to what is there */
    scan_str(t, POL_PII_MASK(POL_PII_EMAIL) | POL_PII_MASK(POL_PII_US_SSN), &s);
    ck_assert_uint_eq(s.n, CM_ARRAY_LEN(want) + 2);
    ck_assert_int_eq(s.v[6].label, POL_PII_EMAIL);
    ck_assert_int_eq(s.v[7].label, POL_PII_US_SSN);
    pol_pii_spans_reset(&s);
    scan_str(t, 0, &s);
    ck_assert_uint_eq(s.n, 0);
    pol_pii_spans_fini(&s);
}
END_TEST

START_TEST(test_context_score)
{
    struct pol_pii_spans a, b;

    pol_pii_spans_init(&a);
    pol_pii_spans_init(&b);
    scan_str("ref 415-555-0132", POL_PII_ALL, &a);
    scan_str("phone 415-555-0132", POL_PII_ALL, &b);
    ck_assert_uint_eq(a.n, 1);
    ck_assert_uint_eq(b.n, 1);
    ck_assert(b.v[0].score > a.v[0].score);
    /* "ip" counts only at a word start: "ship" is not a context word */
    pol_pii_spans_reset(&a);
    scan_str("ship a::b", POL_PII_ALL, &a);
    ck_assert_uint_eq(a.n, 0);
    scan_str("ip a::b", POL_PII_ALL, &a);
    ck_assert_uint_eq(a.n, 1);
    pol_pii_spans_fini(&a);
    pol_pii_spans_fini(&b);
}
END_TEST

/* Context words raise and lower confidence; validators of the new types. */
START_TEST(test_context_more)
{
    struct pol_pii_spans a, b;
    const char *pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n";

    pol_pii_spans_init(&a);
    pol_pii_spans_init(&b);
    scan_str("on 1985-03-15", POL_PII_ALL, &a);
    scan_str("DOB 1985-03-15", POL_PII_ALL, &b);
    ck_assert_uint_eq(a.n, 1);
    ck_assert_uint_eq(b.n, 1);
    ck_assert(b.v[0].score >= a.v[0].score + 0.25f);
    pol_pii_spans_reset(&a);
    pol_pii_spans_reset(&b);
    scan_str("x 415-555-0132", POL_PII_ALL, &a);
    scan_str("order 415-555-0132", POL_PII_ALL, &b);
    ck_assert_uint_eq(a.n, 1);
    ck_assert_uint_eq(b.n, 1);
    ck_assert(b.v[0].score < a.v[0].score);
    pol_pii_spans_reset(&a);
    pol_pii_spans_reset(&b);
    scan_str("GB82WEST12345698765432", POL_PII_ALL, &a);
    scan_str("IBAN GB82WEST12345698765432", POL_PII_ALL, &b);
    ck_assert(b.v[0].score > a.v[0].score);
    /* an IP address inside a URL wins (more specific, higher score) */
    pol_pii_spans_reset(&a);
    scan_str("http://192.168.0.1/path", POL_PII_ALL, &a);
    ck_assert_uint_eq(a.n, 1);
    ck_assert_int_eq(a.v[0].label, POL_PII_IP_ADDRESS);
    pol_pii_spans_fini(&a);
    pol_pii_spans_fini(&b);

    ck_assert_uint_eq(pol_pii_iban_len("DE"), 22);
    ck_assert_uint_eq(pol_pii_iban_len("NO"), 15);
    ck_assert_uint_eq(pol_pii_iban_len("RU"), 33);
    ck_assert_uint_eq(pol_pii_iban_len("US"), 0);
    ck_assert(pol_pii_iban_ok("DE89370400440532013000", 22));
    ck_assert(!pol_pii_iban_ok("DE89370400440532013001", 22));
    ck_assert(!pol_pii_iban_ok("DE8937040044053201300", 21));
    ck_assert(!pol_pii_iban_ok("DE89 3704004405320130", 22));

    /* an unterminated PEM block is open until its END line arrives */
    ck_assert_uint_eq(pol_pii_scan_open("abc", 3), 3);
    ck_assert_uint_eq(pol_pii_scan_open(pem, strlen(pem)), 0);
    {
        char buf[256];

        snprintf(buf, sizeof(buf), "x %s-----END EC PRIVATE KEY-----\n", pem);
        ck_assert_uint_eq(pol_pii_scan_open(buf, strlen(buf)), strlen(buf));
        snprintf(buf, sizeof(buf), "ok\n%s", pem);
        ck_assert_uint_eq(pol_pii_scan_open(buf, strlen(buf)), 3);
    }
}
END_TEST

/* Every prefix of a dense sample, from an exactly sized heap copy (ASan
 * reports any read past len), and arbitrary bytes. */
START_TEST(test_prefixes_and_bytes)
{
    const char *t = "\xc3\xa9jane@example.com (415) 555-0132 x12 +44 20 7946 0958 "
                    "4111-1111-1111-1111 123-45-6789 ssn 123456789 192.168.0.1 "
                    "::ffff:192.0.2.1 fe80::1 a@b.cd 0044 20 7946 0958 ext. 7 "
                    "DE89 3704 0044 0532 0130 00 https://x.example/a?b=(c) www.example.org "
                    "March 15, 2024 15.03.1985 AKIAIOSFODNN7EXAMPLE password=\"Xk9#pQ2!vL7\" "
                    "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY----- "
                    "eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.c2ln";
    size_t n = strlen(t);
    struct pol_pii_spans s;
    unsigned char junk[4096];
    unsigned x = 12345;

    pol_pii_spans_init(&s);
    for (size_t len = 0; len <= n; len++) {
        char *p = malloc(len ? len : 1);

        memcpy(p, t, len);
        pol_pii_spans_reset(&s);
        ck_assert_int_eq(pol_pii_scan(p, len, POL_PII_ALL, &s), CM_OK);
        for (size_t k = 0; k < s.n; k++) {
            ck_assert_uint_le(s.v[k].end, len);
            ck_assert_uint_lt(s.v[k].start, s.v[k].end);
            if (k > 0)
                ck_assert_uint_ge(s.v[k].start, s.v[k - 1].end);
        }
        free(p);
    }
    pol_pii_spans_reset(&s);
    ck_assert_int_eq(pol_pii_scan(t, n, POL_PII_ALL, &s), CM_OK);
    ck_assert_uint_ge(s.n, 10);

    for (int round = 0; round < 50; round++) {
        for (size_t k = 0; k < sizeof(junk); k++) {
            static const char alphabet[] = "0123456789 .-:+()@abcfx\xc3\xa9/=_\"ADEGKMJ";

            x = x * 1103515245u + 12345u;
            junk[k] = (round & 1) ? (unsigned char)(x >> 16)
                                  : (unsigned char)alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
        }
        pol_pii_spans_reset(&s);
        ck_assert_int_eq(pol_pii_scan((const char *)junk, sizeof(junk), POL_PII_ALL, &s), CM_OK);
        for (size_t k = 0; k < s.n; k++) {
            ck_assert_uint_le(s.v[k].end, sizeof(junk));
            /* never starts or ends inside a UTF-8 sequence */
            ck_assert((junk[s.v[k].start] & 0xC0) != 0x80);
            ck_assert(s.v[k].end == sizeof(junk) || (junk[s.v[k].end] & 0xC0) != 0x80);
            if (k > 0)
                ck_assert_uint_ge(s.v[k].start, s.v[k - 1].end);
        }
    }
    pol_pii_spans_fini(&s);
}
END_TEST

/* ------------------------------------------------------------ redaction */

static char *
redact(const char *text, const enum pol_pii_op ops[POL_PII__COUNT],
       const struct pol_pii_redact_opts *o, size_t *nrep)
{
    struct pol_pii_spans s;
    struct cm_buf b;

    pol_pii_spans_init(&s);
    cm_buf_init(&b);
    scan_str(text, POL_PII_ALL, &s);
    *nrep = pol_pii_redact(text, strlen(text), s.v, s.n, ops, o, &b);
    pol_pii_spans_fini(&s);
    cm_buf_putc(&b, '\0');
    return cm_buf_steal(&b, NULL);
}

START_TEST(test_redact_ops)
{
    enum pol_pii_op ops[POL_PII__COUNT] = {0};
    struct pol_pii_redact_opts o = {.mask_keep = 4};
    size_t n;
    char *r;

    ops[POL_PII_EMAIL] = POL_PII_OP_REDACT;
    ops[POL_PII_CREDIT_CARD] = POL_PII_OP_MASK;
    ops[POL_PII_PHONE] = POL_PII_KEEP;
    r = redact("me: jane@example.com, 4111 1111 1111 1111, 415-555-0132.", ops, &o, &n);
    ck_assert_str_eq(r, "me: <EMAIL>, ***************1111, 415-555-0132.");
    ck_assert_uint_eq(n, 2);
    free(r);

    /* nothing to replace: the text comes back byte for byte */
    memset(ops, 0, sizeof(ops));
    r = redact("me: jane@example.com", ops, &o, &n);
    ck_assert_str_eq(r, "me: jane@example.com");
    ck_assert_uint_eq(n, 0);
    free(r);

    /* mask keeps 0 characters when asked */
    ops[POL_PII_US_SSN] = POL_PII_OP_MASK;
    o.mask_keep = 0;
    r = redact("ssn 123-45-6789!", ops, &o, &n);
    ck_assert_str_eq(r, "ssn ***********!");
    free(r);
}
END_TEST

START_TEST(test_mask_utf8)
{
    /* a synthetic span over multi-byte text: mask counts code points */
    const char *t = "x\xc3\xa9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80y";
    struct pol_pii_span sp = {.start = 1, .end = strlen(t) - 1, .label = POL_PII_PERSON};
    enum pol_pii_op ops[POL_PII__COUNT] = {0};
    struct pol_pii_redact_opts o = {.mask_keep = 2};
    struct cm_buf b;

    ops[POL_PII_PERSON] = POL_PII_OP_MASK;
    cm_buf_init(&b);
    ck_assert_uint_eq(pol_pii_redact(t, strlen(t), &sp, 1, ops, &o, &b), 1);
    cm_buf_putc(&b, '\0');
    ck_assert_str_eq(b.p, "x**\xe2\x82\xac\xf0\x9f\x98\x80y");
    /* a value no longer than mask_keep is masked whole */
    cm_buf_reset(&b);
    o.mask_keep = 8;
    pol_pii_redact(t, strlen(t), &sp, 1, ops, &o, &b);
    cm_buf_putc(&b, '\0');
    ck_assert_str_eq(b.p, "x****y");
    cm_buf_fini(&b);
}
END_TEST

START_TEST(test_hash_op)
{
    enum pol_pii_op ops[POL_PII__COUNT] = {0};
    static const uint8_t k1[] = "tenant-key-1", k2[] = "tenant-key-2";
    struct pol_pii_redact_opts o = {.mask_keep = 4, .hash_key = k1, .hash_key_len = 12};
    char *a, *b, *c, *d;
    size_t n;

    ops[POL_PII_EMAIL] = POL_PII_OP_HASH;
    a = redact("to jane@example.com.", ops, &o, &n);
    b = redact("cc jane@example.com!", ops, &o, &n);
    c = redact("to john@example.com.", ops, &o, &n);
    o.hash_key = k2;
    d = redact("to jane@example.com.", ops, &o, &n);
    ck_assert_uint_eq(strlen(a), strlen("to <EMAIL:0123456789abcdef>."));
    ck_assert(strncmp(a, "to <EMAIL:", 10) == 0);
    ck_assert_str_eq(a + 3 + 7 + 16, ">.");
    for (size_t k = 10; k < 26; k++)
        ck_assert(strchr("0123456789abcdef", a[k]) != NULL);
    ck_assert(memcmp(a + 3, b + 3, 24) == 0); /* same value, same key: same token */
    ck_assert(memcmp(a + 3, c + 3, 24) != 0); /* different value */
    ck_assert(memcmp(a + 3, d + 3, 24) != 0); /* different key */
    free(a);
    free(b);
    free(c);
    free(d);
}
END_TEST

static Suite *
pii_suite(void)
{
    Suite *s = suite_create("pii");
    TCase *tc = tcase_create("scan");

    tcase_add_loop_test(tc, test_positive, 0, (int)CM_ARRAY_LEN(positives));
    tcase_add_loop_test(tc, test_negative, 0, (int)CM_ARRAY_LEN(negatives));
    tcase_add_test(tc, test_luhn_ssn_validators);
    tcase_add_test(tc, test_labels);
    tcase_add_test(tc, test_many_sorted);
    tcase_add_test(tc, test_context_score);
    tcase_add_test(tc, test_context_more);
    tcase_add_test(tc, test_prefixes_and_bytes);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);

    tc = tcase_create("redact");
    tcase_add_test(tc, test_redact_ops);
    tcase_add_test(tc, test_mask_utf8);
    tcase_add_test(tc, test_hash_op);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return unit_run(pii_suite());
}
