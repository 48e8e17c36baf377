/* Cairn SDK v1 — include this one header. */
#pragma once

#include "abi.h"
#include "error.h"
#include "plugin.h"
#include "interfaces.h"
#include "host.h"
#include "util.h"
