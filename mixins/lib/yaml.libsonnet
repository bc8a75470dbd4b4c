// A YAML writer for the generated rule files. Debian's jsonnet 0.18 has
// std.manifestYamlDoc, but it builds its output by repeated string
// concatenation and takes 10 s for the 28 kB of alerts; this one joins lists
// of lines once. It also writes multi-line strings (PromQL, descriptions) as
// literal blocks, which keeps the files readable and reviewable.
// Double-quoted scalars are written as JSON strings. std.escapeStringJson
// concatenates character by character too; joining a list is linear.
local escapeChar(c) =
  if c == '"' then '\\"'
  else if c == '\\' then '\\\\'
  else if c == '\n' then '\\n'
  else if c == '\t' then '\\t'
  else if std.codepoint(c) < 32 || std.codepoint(c) == 127 then '\\u%04x' % std.codepoint(c)
  else c;
local quote(s) = '"' + std.join('', [escapeChar(c) for c in std.stringChars(s)]) + '"';

local keyChar(c) = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
local key(k) =
  if k != '' && std.length(std.filter(function(c) !keyChar(c), std.stringChars(k))) == 0 && !(k[0] >= '0' && k[0] <= '9')
  then k
  else quote(k);

// A multi-line string becomes a literal block, which reads back exactly
// when it has no carriage return and does not start with a space (taken for
// indentation): "|-" when it does not end in a line break, "|" when it ends
// in exactly one; anything else is quoted.
local blockStyle(s) =
  local chars = std.stringChars(s);
  local n = std.length(s);
  local breaks = std.length(std.filter(function(c) c == '\n', chars));
  if breaks == 0 || std.member(chars, '\r') || s[0] == ' ' || s[0] == '\n' then null
  else if s[n - 1] != '\n' then '|-'
  else if n >= 2 && s[n - 2] == '\n' then null
  else if breaks == 1 then null
  else '|';

local pad(n) = std.repeat(' ', n);
local blockLines(s, indent) =
  local body = if s[std.length(s) - 1] == '\n' then std.substr(s, 0, std.length(s) - 1) else s;
  [if line == '' then '' else pad(indent) + line for line in std.split(body, '\n')];

// A word (a name, a severity, a duration) needs no quotes unless YAML would
// read it as something else.
local plainChar(c) = keyChar(c) || c == '-' || c == '.';
local digit(c) = c >= '0' && c <= '9';
local durationChar(c) = digit(c) || std.member(['s', 'm', 'h', 'd', 'w', 'y'], c);
local plain(s) =
  s != '' && std.length(std.filter(function(c) !plainChar(c), std.stringChars(s))) == 0 &&
  !std.member(['true', 'false', 'null', 'yes', 'no', 'on', 'off', 'y', 'n'], std.asciiLower(s)) &&
  if digit(s[0])
  then  // only durations such as 5m or 1h30m: 0x1F, 1e5 or 1_000 would read as numbers
    std.length(std.filter(function(c) !durationChar(c), std.stringChars(s))) == 0 && !digit(s[std.length(s) - 1])
  else (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z');
local scalar(v) =
  if std.isString(v) then (if plain(v) then v else quote(v))
  else if v == null then 'null'
  else std.toString(v);

local empty(v) = (std.isObject(v) && std.length(std.objectFields(v)) == 0) || (std.isArray(v) && std.length(v) == 0);

local objectLines(o, indent) =
  std.flattenArrays([
    local v = o[k];
    local head = pad(indent) + key(k) + ':';
    if empty(v) then [head + (if std.isObject(v) then ' {}' else ' []')]
    else if std.isObject(v) then [head] + objectLines(v, indent + 2)
    else if std.isArray(v) then [head] + arrayLines(v, indent + 2)
    else if std.isString(v) && blockStyle(v) != null then [head + ' ' + blockStyle(v)] + blockLines(v, indent + 2)
    else [head + ' ' + scalar(v)]
    for k in std.objectFields(o)
  ]),
  // (one local with objectLines: they call each other)
  arrayLines(a, indent) =
  std.flattenArrays([
    if empty(v) then [pad(indent) + '- ' + (if std.isObject(v) then '{}' else '[]')]
    else if std.isObject(v) then
      local lines = objectLines(v, indent + 2);
      [pad(indent) + '- ' + std.substr(lines[0], indent + 2, std.length(lines[0]))] + lines[1:]
    else if std.isArray(v) then [pad(indent) + '-'] + arrayLines(v, indent + 2)
    else if std.isString(v) && blockStyle(v) != null then [pad(indent) + '- ' + blockStyle(v)] + blockLines(v, indent + 2)
    else [pad(indent) + '- ' + scalar(v)]
    for v in a
  ]);

{
  // The document for `value` (an object or array), ending in a line break.
  manifest(value)::
    std.join('\n', if std.isObject(value) then objectLines(value, 0) else arrayLines(value, 0)) + '\n',
}
