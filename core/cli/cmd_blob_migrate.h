/* cairn blob migrate (cmd_blob_migrate.c), called by cairn_cmd_blob. */
#pragma once

/* argv is cairn_cmd_blob's: argv[0] "blob", "migrate" among the rest. */
int cairn_cmd_blob_migrate (int argc, char **argv);
