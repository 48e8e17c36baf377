/* cairn dist build|verify: vendor distributions (dist_private.h; README
 * "Vendor distributions"). */
#include <string.h>

#include "dist_private.h"

static int
dist_build (const char *spec_path, const char *key_path, const char *out_dir,
            gboolean deb, gboolean json)
{
  if (spec_path == NULL)
    return cairn_cli_usage ("dist build: --spec vendor.json is required");
  if (key_path == NULL)
    return cairn_cli_usage ("dist build: --key VENDOR.pem is required (the "
                            "vendor's Ed25519 key: it signs every plugin and "
                            "the manifest)");
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) key = cairn_key_load (key_path, &error);
  if (key == NULL) {
    g_prefix_error (&error, "--key: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (CairnConfSource) src = cairn_conf_source_default ();
  g_autoptr (CairnDistSpec) spec
      = cairn_dist_spec_load (spec_path, src, &error);
  if (spec == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) result = NULL;
  if (!cairn_dist_build (spec, src, key, out_dir ? out_dir : ".", deb, &result,
                         &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  double seconds = (g_get_monotonic_time () - t0) / 1e6;
  json_object_set_new (result, "seconds", json_real (seconds));
  g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (key), 32);
  json_object_set_new (result, "signer", json_string (pk));
  if (json) {
    cairn_cli_print_json (result);
    return CAIRN_EXIT_OK;
  }
  g_print ("built %s %s in %.1f s, signed by %s\n", spec->name, spec->version,
           seconds, pk);
  cairn_cli_print_field (
      "  tarball", "%s (%" JSON_INTEGER_FORMAT " bytes, sha256 %s)",
      json_string_value (json_object_get (result, "tarball")),
      json_integer_value (json_object_get (result, "tarball_size")),
      json_string_value (json_object_get (result, "tarball_sha256")));
  if (deb)
    cairn_cli_print_field (
        "  deb", "%s (%" JSON_INTEGER_FORMAT " bytes, sha256 %s)",
        json_string_value (json_object_get (result, "deb")),
        json_integer_value (json_object_get (result, "deb_size")),
        json_string_value (json_object_get (result, "deb_sha256")));
  g_autoptr (GString) ids = g_string_new (NULL);
  size_t i;
  json_t *id;
  json_array_foreach (json_object_get (result, "plugins"), i, id)
      g_string_append_printf (ids, "%s%s", i ? ", " : "",
                              json_string_value (id));
  cairn_cli_print_field ("  plugins", "%s", ids->str);
  cairn_cli_print_field (
      "  files",
      "%" JSON_INTEGER_FORMAT " in MANIFEST.json (%" JSON_INTEGER_FORMAT
      " web assets), mtime %" JSON_INTEGER_FORMAT,
      json_integer_value (json_object_get (result, "files")),
      json_integer_value (json_object_get (result, "web_assets")),
      json_integer_value (json_object_get (result, "source_date_epoch")));
  return CAIRN_EXIT_OK;
}

int
cairn_cmd_dist (int argc, char **argv)
{
  g_autofree char *spec = NULL, *key = NULL, *out = NULL;
  gboolean deb = FALSE, json = FALSE;
  const GOptionEntry entries[] = {
    { "spec", 0, 0, G_OPTION_ARG_FILENAME, &spec,
      "build: the distribution's spec", "vendor.json" },
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &key,
      "build: the vendor's Ed25519 key (PEM) that signs plugins and "
      "manifest; verify: the key the manifest must be signed by (public "
      "PEM or 64 hex)",
      "KEY" },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out,
      "build: output directory (default: .)", "DIR" },
    { "deb", 0, 0, G_OPTION_ARG_NONE, &deb,
      "build: also a .deb (dpkg-deb) installing under /opt/NAME", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "build --spec vendor.json --key VENDOR.pem [--out DIR] [--deb] | "
      "verify TARBALL [--key VENDOR.pub]",
      "Vendor distributions: a relocatable, signed, reproducible Cairn.",
      "Commands:\n"
      "  build    assemble NAME-VERSION.tar.gz from the spec: bin/cairn (this\n"
      "           executable), lib/cairn-1/plugins/ (each plugin signed with\n"
      "           --key), etc/cairn/ (cairn.conf, the included plugins'\n"
      "           snippets, 05-dist.conf requiring signed plugins, profiles,\n"
      "           alternatives), share/cairn/ (branding.json, the genesis\n"
      "           template, web assets), MANIFEST.json (every file's path,\n"
      "           size, mode and SHA-256) and MANIFEST.json.sig. The same\n"
      "           inputs give the same bytes (mtimes = SOURCE_DATE_EPOCH,\n"
      "           else the spec's source_date_epoch, else 0). --deb also\n"
      "           writes NAME_VERSION_ARCH.deb with NAME-node.service.\n"
      "  verify   check a tarball: the manifest's signature (by --key when\n"
      "           given), every file's size, mode and SHA-256, nothing\n"
      "           missing or extra, every plugin signed by a trusted key.\n"
      "           Exit 0 only if all is right; each problem names its file.\n"
      "\n"
      "Spec (JSON; files relative to it):\n"
      "  name               2-32 of a-z 0-9 -, starting with a letter\n"
      "  version            starts with a digit (a Debian version)\n"
      "  branding           {\"product\": …, \"vendor\", \"url\", \"support\", "
      "…}\n"
      "  plugins            ids of this cairn's plugins, or {\"file\": x.so,\n"
      "                     \"conf\": NN-x.conf} (vendor plugins), or\n"
      "                     {\"id\": …, \"conf\": …}\n"
      "  conf               optional: extra conf.d snippets\n"
      "  genesis_template   optional: {\"chain_id\", \"accounts\", "
      "\"app_state\"}\n"
      "  trusted_keys       optional: more vendor public keys (PEM or hex)\n"
      "  source_date_epoch  optional: the mtime when SOURCE_DATE_EPOCH is "
      "unset\n"
      "\n"
      "The distribution's bin/cairn loads plugins only from its own\n"
      "lib/cairn-1/plugins, `cairn init` takes its etc/cairn/ and genesis\n"
      "template, and `cairn version` shows its branding.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc < 2)
    return cairn_cli_usage ("missing command: build or verify");
  const char *sub = argv[1];
  if (g_str_equal (sub, "build")) {
    if (argc != 2)
      return cairn_cli_usage ("unexpected argument '%s'", argv[2]);
    return dist_build (spec, key, out, deb, json);
  }
  if (g_str_equal (sub, "verify")) {
    if (argc != 3)
      return cairn_cli_usage ("usage: dist verify TARBALL [--key "
                              "VENDOR.pub]");
    if (spec || out || deb)
      return cairn_cli_usage ("dist verify takes only --key and --json");
    return cairn_dist_verify (argv[2], key, json);
  }
  return cairn_cli_usage ("unknown dist command '%s' (build, verify)", sub);
}
