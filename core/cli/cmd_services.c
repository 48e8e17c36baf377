/* cairn services: the services plugin's flows from the command line. */
#include "cli.h"

int
cairn_cmd_services (int argc, char **argv)
{
  cairn_cli_printerr ("'cairn services' is not implemented yet "
                      "(issue 4: publish, entitle, key, feedback, review)");
  return CAIRN_EXIT_FAILED;
}
