/* cairn plugin new: scaffold an out-of-tree plugin project (see
 * cmd_plugin_new.c). */
#pragma once

/* `cairn plugin new NAME --kind KIND [--dir D] [--json]`; argv[0] is
 * "new". Returns the exit code (cli.h). */
int cairn_cli_plugin_new (int argc, char **argv);
