/* Peer address parsing: "id@host:port" (p2p.h). */
#include <string.h>

#include <cairn/error.h>

#include "p2p.h"

#define ID "0123456789abcdef0123456789abcdef01234567"

static void
test_good (void)
{
  struct {
    const char *text, *host;
    guint16 port;
  } cases[] = {
    { ID "@127.0.0.1:7000", "127.0.0.1", 7000 },
    { ID "@node-1.example.org:1", "node-1.example.org", 1 },
    { ID "@localhost:65535", "localhost", 65535 },
    { ID "@[::1]:9000", "::1", 9000 },
    { ID "@[fe80::1:2]:443", "fe80::1:2", 443 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    CairnPeerAddr a;
    g_autoptr (GError) error = NULL;
    g_assert_true (cairn_peer_addr_parse (cases[i].text, &a, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (a.id, ==, ID);
    g_assert_cmpstr (a.host, ==, cases[i].host);
    g_assert_cmpuint (a.port, ==, cases[i].port);
    cairn_peer_addr_clear (&a);
    g_assert_null (a.host);
    g_assert_cmpuint (a.port, ==, 0);
  }
  cairn_peer_addr_clear (NULL);
}

static void
test_bad (void)
{
  /* Each bad input and a word its error must contain. */
  struct {
    const char *text, *part;
  } cases[] = {
    { "", "empty" },
    { ID "127.0.0.1:7000", "'@'" },
    { "0123@127.0.0.1:7000", "id '0123'" },
    { "0123456789ABCDEF0123456789abcdef01234567@h:1", "id" },
    { "g123456789abcdef0123456789abcdef01234567@h:1", "id" },
    { ID "0@h:1", "id" },
    { "@h:1", "id ''" },
    { ID "@127.0.0.1", "port" },
    { ID "@127.0.0.1:", "port ''" },
    { ID "@127.0.0.1:0", "port '0'" },
    { ID "@127.0.0.1:65536", "port '65536'" },
    { ID "@127.0.0.1:99999999999999999999999", "port" },
    { ID "@127.0.0.1:70x", "port '70x'" },
    { ID "@127.0.0.1:-1", "port '-1'" },
    { ID "@127.0.0.1:+80", "port '+80'" },
    { ID "@:7000", "host ''" },
    { ID "@bad_host:7000", "host 'bad_host'" },
    { ID "@-bad.org:7000", "host '-bad.org'" },
    { ID "@a..b:7000", "host 'a..b'" },
    { ID "@::1:7000", "IPv6" },
    { ID "@[::1:7000", "']'" },
    { ID "@[nothex]:7000", "host '[nothex]'" },
    { ID "@[127.0.0.1]:7000", "IPv6" },
    { ID "@[::1]7000", "':port'" },
    { ID "@[::1]:", "port" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    CairnPeerAddr a;
    g_autoptr (GError) error = NULL;
    g_assert_false (cairn_peer_addr_parse (cases[i].text, &a, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
    if (strstr (error->message, cases[i].part) == NULL)
      g_error ("'%s': error '%s' does not name '%s'", cases[i].text,
               error->message, cases[i].part);
    g_assert_null (a.host);
  }
  {
    CairnPeerAddr a;
    g_autoptr (GError) error = NULL;
    g_assert_false (cairn_peer_addr_parse (NULL, &a, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/p2p/addr/good", test_good);
  g_test_add_func ("/p2p/addr/bad", test_bad);
  return g_test_run ();
}
