// h2rpc: the whole public API in one include.
#pragma once

#include "codec/status.h"
#include "rpc/channel.h"
#include "rpc/client_call.h"
#include "rpc/client_context.h"
#include "rpc/client_stream.h"
#include "rpc/credentials.h"
#include "rpc/metadata.h"
#include "rpc/options.h"
#include "rpc/serialization.h"
#include "rpc/server.h"
#include "rpc/server_call.h"
#include "rpc/server_context.h"
#include "rpc/service.h"
