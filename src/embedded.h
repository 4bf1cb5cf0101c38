/* The Lua files of lua/dpty/, embedded at build time (generated embedded_lua.c). */
#ifndef DPTY_EMBEDDED_H
#define DPTY_EMBEDDED_H

#include <stddef.h>

struct embedded_module {
  const char *name;   /* module name: "dpty", "dpty.cli", ... */
  const char *path;   /* source path, for chunk names: "lua/dpty/cli.lua" */
  const char *source;
  size_t size;
};

extern const struct embedded_module embedded_modules[];

#endif
