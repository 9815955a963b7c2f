-- -*- lua -*-
-- Lmod modulefile for benchmon.
--
-- Where benchmon is installed (<root>) is derived from this file's own path,
-- so nothing needs editing at install time and the tree may be moved:
-- 'make install PREFIX=<root>' puts this file at
--     <root>/share/lmod/benchmon/<version>.lua
-- and users run 'module use <root>/share/lmod' (or the site adds that
-- directory to MODULEPATH).
--
-- To serve it from a central modulepath instead (say /apps/modules), copy it
-- to /apps/modules/benchmon/<version>.lua and make the 'local root' line
-- below a literal, e.g. with
--     sed -i 's|^local root = .*|local root = "/opt/benchmon/0.1.0"|' FILE
-- A copy that is neither under <root>/share/lmod nor edited refuses to load
-- rather than point PATH at a directory that does not exist.

local root = myFileName():match("^(.+)/share/lmod/[^/]+/[^/]+%.lua$")

local version = myModuleVersion()

whatis("Name: benchmon")
whatis("Version: " .. version)
whatis("Category: tools, monitoring")
whatis("Description: monitor AI-system benchmarks on Slurm clusters with Prometheus")

help([[
benchmon ]] .. version .. [[ monitors benchmarks of AI systems (inference
servers, vector databases, storage) on Slurm clusters: it keeps a registry of
what to scrape, runs Prometheus as a Slurm job, and computes a benchmark
window's KPIs (throughput, latency percentiles, CPU and GPU use).

This module puts benchmon on PATH, its manual on MANPATH and its bash
completion where bash-completion finds it (XDG_DATA_DIRS), and sets
BENCHMON_DATADIR to its templates and query profiles.

  benchmon help          list the commands
  benchmon CMD -h        one command's flags
  man benchmon           the manual

Prometheus itself must be installed on the nodes where its job runs
(or named by BENCHMON_PROMETHEUS).
]])

if not root then
    LmodError("benchmon: cannot tell the install root from '" .. myFileName() ..
        "': install this file as <root>/share/lmod/benchmon/" .. version ..
        ".lua, or set 'local root' at its top")
end

prepend_path("PATH", pathJoin(root, "bin"))

-- An empty MANPATH entry stands for man's own search path; without it, a
-- MANPATH that was unset would hide every other manual once this loads.
if (os.getenv("MANPATH") or "") == "" then
    append_path("MANPATH", "")
end
prepend_path("MANPATH", pathJoin(root, "share/man"))

-- bash-completion looks for share/bash-completion/completions/benchmon under
-- each XDG_DATA_DIRS entry; an unset variable means /usr/local/share:/usr/share,
-- kept here so that setting it does not lose them.
if (os.getenv("XDG_DATA_DIRS") or "") == "" then
    append_path("XDG_DATA_DIRS", "/usr/local/share:/usr/share")
end
prepend_path("XDG_DATA_DIRS", pathJoin(root, "share"))

setenv("BENCHMON_DATADIR", pathJoin(root, "share/benchmon"))
