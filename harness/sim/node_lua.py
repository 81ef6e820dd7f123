"""The Lua side of a simulated node: one Lua 5.1 state (lupa) running scripts as Redis 7.0 does.

What this reproduces from Redis 7.0 (script_lua.c, eval.c):
- scripts are compiled once per SHA as chunk "@user_script" (error positions
  read "user_script:N:") and run with KEYS and ARGV as globals;
- globals are read-only for scripts ("Attempt to modify a readonly table"),
  and reading an undefined global is an error ("Script attempted to access
  nonexistent global variable");
- redis.call raises an error table {err=...}, redis.pcall returns it;
  redis.error_reply / status_reply / sha1hex / log;
- an error handler adds the script position, so the reply reads
  "<err> script: <sha>, on @user_script:<line>.".
What it does not: the `cjson`, `cmsgpack`, `struct` and `bit` libraries (no
script of the library uses them), read-only library tables (string.x = 1 is
allowed here), RESP3 replies and the `map`/`set` reply tables, script
timeouts and `SCRIPT KILL`.

The runtime is Lua 5.1 (`lupa.lua51`), the Lua version embedded in Redis, so
numbers, string library and error messages behave the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from harness.sim.node_replies import CommandError, Status, lua_number_arg

try:
    from lupa import lua51 as _lupa
except ImportError:  # pragma: no cover - lupa builds without the 5.1 module
    import lupa as _lupa  # type: ignore[no-redef]

lua_type = _lupa.lua_type

# Globals a Redis 7.0 script sees (besides KEYS, ARGV, redis and the libraries kept below).
_KEPT_GLOBALS = (
    "_G", "_VERSION", "assert", "collectgarbage", "coroutine", "error", "gcinfo", "getmetatable",
    "ipairs", "load", "loadstring", "math", "next", "pairs", "pcall", "rawequal", "rawget",
    "rawset", "select", "setmetatable", "string", "table", "tonumber", "tostring", "type",
    "unpack", "xpcall",
)

_BOOTSTRAP = r"""
local py_call, py_pcall, py_message, py_sha1, kept = ...
local error, type, select, tostring = error, type, select, tostring
local setmetatable, xpcall, pcall, rawset = setmetatable, xpcall, pcall, rawset
local loadstring, setfenv, getinfo, unpack, rawget = loadstring, setfenv, debug.getinfo, unpack, rawget
local genv = _G

local keep = {}
for i = 1, #kept do keep[kept[i]] = true end
local names = {}
for name in pairs(genv) do names[#names + 1] = name end
for i = 1, #names do
  if not keep[names[i]] then genv[names[i]] = nil end
end

local redis = {}
rawset(genv, 'redis', redis)

-- redis.call and redis.pcall are the Python functions themselves: like Redis's C functions, a
-- `return redis.call(...)` is then no Lua tail call, and an error keeps the script's line.
-- redis.call raises a Python ScriptError; as a Lua error value it is turned into Redis's
-- {err=...} table by the handler below and by the pcall/xpcall scripts see.
redis.call = py_call
redis.pcall = py_pcall

local function as_table(e)
  if type(e) == 'userdata' then return {err = py_message(e)} end
  return e
end

local function push_error(e)
  -- luaPushErrorBuff: '-CODE msg' or 'msg' (code ERR), trailing CR/LF trimmed
  local code, msg
  if e:sub(1, 1) == '-' then
    local sp = e:find(' ', 1, true)
    if sp then code, msg = e:sub(2, sp - 1), e:sub(sp + 1) else code, msg = 'ERR', e:sub(2) end
  else
    code, msg = 'ERR', e
  end
  msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
  return {err = code .. ' ' .. msg}
end

function redis.error_reply(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  if e:sub(1, 1) ~= '-' then e = '-' .. e end
  return push_error(e)
end

function redis.status_reply(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {ok = s}
end

function redis.sha1hex(...)
  if select('#', ...) ~= 1 then error({err = 'ERR wrong number of arguments'}) end
  local s = ...
  if type(s) == 'number' then s = tostring(s) end
  if type(s) ~= 'string' then s = '' end
  return py_sha1(s)
end

function redis.log() end
function redis.setresp() end
function redis.set_repl() end
function redis.replicate_commands() return true end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = '7.0.15', 0x07000f

local function settle(ok, ...)
  if ok then return ok, ... end
  return false, as_table((...))
end

local overrides = {
  pcall = function(f, ...) return settle(pcall(f, ...)) end,
  xpcall = function(f, h) return xpcall(f, function(e) return h(as_table(e)) end) end,
}

-- what scripts see as globals: read-only, undefined names are an error (Redis 7.0)
local env = setmetatable({}, {
  __index = function(_, name)
    local v = overrides[name]
    if v ~= nil then return v end
    v = genv[name]
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    return v
  end,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
})

local function handler(err)
  -- like Redis's __redis__err__handler: the position of the script line that failed
  local level = 2
  local info = getinfo(level, 'nSl')
  while info and (info.what == 'C' or info.source == '=sim') do
    level = level + 1
    info = getinfo(level, 'nSl')
  end
  err = as_table(err)
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if info then
    err['source'] = info.source
    err['line'] = info.currentline
  end
  return err
end

local function compile(source)
  local f, message = loadstring(source, '@user_script')
  if not f then return nil, message end
  setfenv(f, env)
  return f
end

-- A script's reply, flattened into values Python receives in one call (luaReplyToRedisReply's
-- walk): strings and numbers as they are; `false` then a tag for the rest: 'N' null, 'E' msg
-- error, 'S' msg status, 'D' number double, 'A' count array (its items follow).
local function emit(v, out, n)
  local t = type(v)
  if t == 'string' or t == 'number' then
    out[n + 1] = v
    return n + 1
  end
  if t == 'boolean' then
    if v then out[n + 1] = 1; return n + 1 end
    out[n + 1], out[n + 2] = false, 'N'
    return n + 2
  end
  if t ~= 'table' then
    out[n + 1], out[n + 2] = false, 'N'
    return n + 2
  end
  local field = rawget(v, 'err')
  if type(field) == 'string' then
    out[n + 1], out[n + 2], out[n + 3] = false, 'E', field
    return n + 3
  end
  field = rawget(v, 'ok')
  if type(field) == 'string' then
    out[n + 1], out[n + 2], out[n + 3] = false, 'S', field
    return n + 3
  end
  field = rawget(v, 'double')
  if type(field) == 'number' then
    out[n + 1], out[n + 2], out[n + 3] = false, 'D', field
    return n + 3
  end
  local count = 0
  while rawget(v, count + 1) ~= nil do count = count + 1 end
  out[n + 1], out[n + 2], out[n + 3] = false, 'A', count
  n = n + 3
  for i = 1, count do n = emit(rawget(v, i), out, n) end
  return n
end

local function run(f, nkeys, ...)
  local args, keys, argv = {...}, {}, {}
  for i = 1, nkeys do keys[i] = args[i] end
  for i = nkeys + 1, select('#', ...) do argv[i - nkeys] = args[i] end
  rawset(genv, 'KEYS', keys)
  rawset(genv, 'ARGV', argv)
  local ok, result = xpcall(f, handler)
  if ok then
    local t = type(result)
    if t == 'string' or t == 'number' then return true, result end
    local out = {}
    return true, unpack(out, 1, emit(result, out, 0))
  end
  -- the handler made it a table: Redis reads err (lua_tostring), source and line
  local message = result.err
  if type(message) == 'number' then message = tostring(message) end
  if type(message) ~= 'string' then message = nil end
  return false, message, result.source, result.line
end

return compile, run
"""


class ScriptError(Exception):
    """Raised by redis.call for an error reply: Lua sees it as the error value of the call."""

    def __init__(self, message: bytes) -> None:
        super().__init__(message)
        self.message = message


class LuaScripts:
    """A Lua state with the `redis` API; `call(argv)` executes a command for a script.

    `call` returns the reply in node_replies form or raises CommandError; this
    class turns it into what redis.call/pcall give a script. Any other
    exception from `call` is a bug of the node: it is kept in
    `internal_error` (the script sees an error) for the node to raise.
    """

    def __init__(self, call: Callable[[list[bytes]], Any]) -> None:
        self._call = call
        self.internal_error: BaseException | None = None
        self.runtime = _lupa.LuaRuntime(encoding=None, unpack_returned_tuples=True,
                                        register_eval=False, register_builtins=False)
        self._table_from = self.runtime.table_from
        # the bootstrap chunk is named "=sim" so the error handler can skip its frames
        load = self.runtime.eval("function(src) return loadstring(src, '=sim') end")
        chunk = load(_BOOTSTRAP.encode())
        kept = self.runtime.table_from([name.encode() for name in _KEPT_GLOBALS])
        self._compile, self._run = chunk(self._redis_call, self._redis_pcall, self._message,
                                         _sha1hex, kept)

    def compile(self, source: bytes) -> tuple[Any, bytes | None]:
        """(function, None) or (None, Lua's compile error message)."""
        compiled = self._compile(source)
        if isinstance(compiled, tuple):
            return None, compiled[1]
        return compiled, None

    def run(self, function: Any, numkeys: int, args: list[bytes]) -> tuple[Any, ...]:
        """(True, *reply tokens) or (False, error message or None, source, line); see `emit`."""
        return self._run(function, numkeys, *args)

    # -- redis.call ---------------------------------------------------------------------------
    def _redis_call(self, *args: Any) -> Any:
        """redis.call: the reply as a Lua value, or a raised ScriptError (Lua's error value)."""
        argv = [arg if type(arg) is bytes else _lua_arg(arg) for arg in args]
        if not argv or None in argv:
            raise ScriptError(_arg_error(argv))
        try:
            reply = self._call(argv)  # type: ignore[arg-type]
        except CommandError as error:
            raise ScriptError(error.message) from None
        except ScriptError:
            raise
        except BaseException as error:  # noqa: BLE001 - a bug in the node: kept and re-raised by the node
            if self.internal_error is None:
                self.internal_error = error
            raise ScriptError(b"ERR internal error in the simulated node") from None
        if reply is None:
            return False
        kind = type(reply)
        if kind is bytes or kind is int:
            return reply
        return self.to_lua(reply)

    def _redis_pcall(self, *args: Any) -> Any:
        """redis.pcall: like redis.call, but an error reply is returned as {err=...}."""
        try:
            return self._redis_call(*args)
        except ScriptError as error:
            return self._table_from({b"err": error.message})

    def _message(self, error: Any) -> bytes:
        if isinstance(error, ScriptError):
            return error.message
        if isinstance(error, BaseException) and self.internal_error is None:
            self.internal_error = error
        return b"ERR internal error in the simulated node"

    def to_lua(self, reply: Any) -> Any:
        """A reply as Redis hands it to Lua (RESP2): null -> false, arrays -> tables, +s -> {ok=s}."""
        if reply is None:
            return False
        kind = type(reply)
        if kind is list:
            return self._table_from([self.to_lua(item) for item in reply])
        if kind is Status:
            return self._table_from({b"ok": bytes(reply)})
        return reply


def _lua_arg(value: Any) -> bytes | None:
    """A non-string redis.call argument as Redis 7.0 converts it (None: not allowed)."""
    kind = type(value)
    if kind is int:
        return str(value).encode() if -10 ** 17 < value < 10 ** 17 else lua_number_arg(value)
    if kind is float:
        return lua_number_arg(value)
    return None


def _arg_error(argv: list[bytes | None]) -> bytes:
    if not argv:
        return b"ERR Please specify at least one argument for this redis lib call"
    return b"ERR Lua redis lib command arguments must be strings or integers"


def _sha1hex(data: bytes) -> bytes:
    return hashlib.sha1(data).hexdigest().encode()
