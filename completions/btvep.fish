# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_btvep_global_optspecs
    string join \n config= data-dir= set= h/help V/version
end

function __fish_btvep_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_btvep_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_btvep_using_subcommand
    set -l cmd (__fish_btvep_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c btvep -n "__fish_btvep_needs_command" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_needs_command" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_needs_command" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_needs_command" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_needs_command" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "config" -d 'Show or change configuration (config.json)'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "key" -d 'Create, list, edit and delete API keys'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "ratelimit" -d 'Show and change rate limits (global or per key)'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "logs" -d 'Show the request log'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "import" -d 'Import a Python btvep database (keys, credits, history) and config'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "start" -d 'Run the API server'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "metagraph" -d 'Show the subnet\'s miners (uid, hotkey, axon, incentive, stake)'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "miner" -d 'Run a Prompting miner (axon) backed by an OpenAI-compatible model server'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "miners" -d 'Show the gateway\'s view of every miner it asked: state, success rate, latency, last failure'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "backup" -d 'Write a consistent backup of keys, balances, counters and miner health (and optionally the log) to a file'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "restore" -d 'Load a backup into an empty data dir (the server must be stopped)'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c btvep -n "__fish_btvep_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -l json -d 'Print JSON'
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -l reveal -d 'Show secrets (mnemonic, API keys) instead of ********'
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -f -a "get" -d 'Print one value'
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -f -a "set" -d 'Set a value in the config file (type-checked and validated)'
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -f -a "unset" -d 'Remove a value from the config file (back to its default)'
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -f -a "path" -d 'Print the config file\'s path'
complete -c btvep -n "__fish_btvep_using_subcommand config; and not __fish_seen_subcommand_from get set unset path help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from get" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from get" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from get" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from get" -l json -d 'Print JSON'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from get" -l reveal -d 'Show the value even if it is a secret'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from set" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from set" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from set" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from set" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from unset" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from unset" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from unset" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from unset" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from unset" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from path" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from path" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from path" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from path" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from path" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "get" -d 'Print one value'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "set" -d 'Set a value in the config file (type-checked and validated)'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "unset" -d 'Remove a value from the config file (back to its default)'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "path" -d 'Print the config file\'s path'
complete -c btvep -n "__fish_btvep_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c btvep -n "__fish_btvep_using_subcommand key; and not __fish_seen_subcommand_from create list show delete edit help" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and not __fish_seen_subcommand_from create list show delete edit help" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and not __fish_seen_subcommand_from create list show delete edit help" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and not __fish_seen_subcommand_from create list show delete edit help" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand key; and not __fish_seen_subcommand_from create list show delete edit help" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand key; and not __fish_seen_subcommand_from create list show delete edit help" -f -a "create" -d 'Create a key; the full key is printed this once and never again'
complete -c btvep -n "__fish_btvep_using_subcommand key; and not __fish_seen_subcommand_from create list show delete edit help" -f -a "list" -d 'List keys'
complete -c btvep -n "__fish_btvep_using_subcommand key; and not __fish_seen_subcommand_from create list show delete edit help" -f -a "show" -d 'Show one key'
complete -c btvep -n "__fish_btvep_using_subcommand key; and not __fish_seen_subcommand_from create list show delete edit help" -f -a "delete" -d 'Delete a key'
complete -c btvep -n "__fish_btvep_using_subcommand key; and not __fish_seen_subcommand_from create list show delete edit help" -f -a "edit" -d 'Edit a key'
complete -c btvep -n "__fish_btvep_using_subcommand key; and not __fish_seen_subcommand_from create list show delete edit help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -s n -l name -d 'A name for the key' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -s v -l valid-until -d 'Expiry: -1/false (never), a unix timestamp, 2025-01-01, \'tomorrow\', \'next week\', \'in 10 days\', \'in 1 month\', \'next year\', \'December 2025\' (UTC, relative to today\'s midnight)' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -s c -l credits -d 'Credits; each successful miner answer costs one; -1 = unlimited' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -l default-query-strategy -d 'The key\'s default query strategy: top_n:N, best:N or uids:A,B' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -s e -l enable -d 'Create the key enabled (the default)'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -s d -l disable -d 'Create the key disabled'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -l json -d 'Print JSON (includes api_key)'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print only the new key'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from list" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from list" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from list" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from list" -l json -d 'Print a JSON array'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from show" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from show" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from show" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from show" -l json -d 'Print JSON'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from delete" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from delete" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from delete" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Do not ask for confirmation'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from delete" -l json -d 'Print the deleted key as JSON'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -s n -l name -d 'New name (\'\' clears it)' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -l request-count -d 'Set the request count' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -s c -l credits -d 'Set the credits (-1 = unlimited)' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -s v -l valid-until -d 'New expiry (same forms as `key create`)' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -l default-query-strategy -d 'top_n:N, best:N, uids:A,B, or none to use the server\'s default' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -s e -l enable -d 'Enable the key'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -s d -l disable -d 'Disable the key'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -l json -d 'Print JSON'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from edit" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a key; the full key is printed this once and never again'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "list" -d 'List keys'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one key'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a key'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "edit" -d 'Edit a key'
complete -c btvep -n "__fish_btvep_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -s k -l key -d 'With no action: show this key\'s limits (id or full key)' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -l json -d 'Print JSON'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -f -a "show" -d 'Show the limits in force (global, or a key\'s)'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -f -a "add" -d 'Add a window: at most TIMES requests per SECONDS'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -f -a "delete" -d 'Delete the window at INDEX (as shown by `ratelimit show`)'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -f -a "clear" -d 'Remove a key\'s own limits so the global ones apply again'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -f -a "enable" -d 'Turn rate limiting on'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -f -a "disable" -d 'Turn rate limiting off'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -f -a "status" -d 'Say whether rate limiting is on and which global limits apply'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and not __fish_seen_subcommand_from show add delete clear enable disable status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from show" -s k -l key -d 'A key\'s limits (id or full key)' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from show" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from show" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from show" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from show" -l json -d 'Print JSON'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from add" -s k -l key -d 'Add to this key\'s own limits instead of the global ones' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from add" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from add" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from add" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from delete" -s k -l key -d 'Delete from this key\'s own limits' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from delete" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from delete" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from delete" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from clear" -s k -l key -d 'The key (id or full key)' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from clear" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from clear" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from clear" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from clear" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from clear" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from enable" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from enable" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from enable" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from enable" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from disable" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from disable" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from disable" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from disable" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from status" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from status" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from status" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from status" -l json -d 'Print JSON'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show the limits in force (global, or a key\'s)'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a window: at most TIMES requests per SECONDS'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete the window at INDEX (as shown by `ratelimit show`)'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from help" -f -a "clear" -d 'Remove a key\'s own limits so the global ones apply again'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Turn rate limiting on'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Turn rate limiting off'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from help" -f -a "status" -d 'Say whether rate limiting is on and which global limits apply'
complete -c btvep -n "__fish_btvep_using_subcommand ratelimit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -s k -l key -d 'Only requests made with this key (id or full key)' -r
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -s r -l responder-hotkey -d 'Only answers from this miner hotkey' -r
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -s s -l start -d 'From this time (UTC): %Y-%m-%d, %Y-%m-%dT%H:%M:%S or \'%Y-%m-%d %H:%M:%S\'' -r
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -s e -l end -d 'Until this time (UTC), same formats; a bare date means the whole day' -r
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -s l -l lines -d 'How many records (newest first)' -r
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -l json -d 'Print one JSON object per line'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -s f -l follow -d 'Keep printing new records as they arrive (Ctrl-C to stop)'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -f -a "prune" -d 'Remove old records now (through the running server when it runs); the server also prunes by itself per `log_retention_days` and `log_max_mb`'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and not __fish_seen_subcommand_from prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and __fish_seen_subcommand_from prune" -l older-than -d 'Remove records older than this: 7d, 12h, 30m (default: log_retention_days)' -r
complete -c btvep -n "__fish_btvep_using_subcommand logs; and __fish_seen_subcommand_from prune" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand logs; and __fish_seen_subcommand_from prune" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand logs; and __fish_seen_subcommand_from prune" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand logs; and __fish_seen_subcommand_from prune" -l dry-run -d 'Say how many records would go, remove nothing'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and __fish_seen_subcommand_from prune" -l json -d 'Print the summary as JSON'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and __fish_seen_subcommand_from prune" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Remove old records now (through the running server when it runs); the server also prunes by itself per `log_retention_days` and `log_max_mb`'
complete -c btvep -n "__fish_btvep_using_subcommand logs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c btvep -n "__fish_btvep_using_subcommand import" -l python-config -d 'Also take the Python btvep config.json: the settings both share are written to btvep\'s config' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand import" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand import" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand import" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand import" -l dry-run -d 'Print what would be imported and change nothing'
complete -c btvep -n "__fish_btvep_using_subcommand import" -l update -d 'Overwrite keys that are already present (same key) with the Python values instead of skipping them'
complete -c btvep -n "__fish_btvep_using_subcommand import" -l skip-bad-rows -d 'Import the good rows when some rows have impossible values (they are listed), instead of nothing'
complete -c btvep -n "__fish_btvep_using_subcommand import" -l json -d 'Print the summary as JSON'
complete -c btvep -n "__fish_btvep_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c btvep -n "__fish_btvep_using_subcommand import" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand start" -l host -d 'Address to listen on [config: host, default 0.0.0.0]' -r
complete -c btvep -n "__fish_btvep_using_subcommand start" -s p -l port -d 'Port to listen on (0 picks a free one) [config: port, default 8000]' -r
complete -c btvep -n "__fish_btvep_using_subcommand start" -l devnet -d 'Also run a local subnet of N miners (throwaway hotkeys, loopback ports, real signed protocol), create or reuse an API key for it and print a ready-to-run curl line. Listens on 127.0.0.1 unless --host is given; a throwaway validator hotkey is used if none is configured' -r
complete -c btvep -n "__fish_btvep_using_subcommand start" -l devnet-model-url -d 'Devnet miners answer through this OpenAI-compatible server (e.g. http://127.0.0.1:11434/v1 for Ollama; key from OPENAI_API_KEY) instead of the built-in responder' -r
complete -c btvep -n "__fish_btvep_using_subcommand start" -l devnet-model -d 'Model name for --devnet-model-url' -r
complete -c btvep -n "__fish_btvep_using_subcommand start" -l devnet-protocol -d 'Protocol the devnet miners (and so the gateway, as miner_protocol) speak: synapse, btauth or epistula' -r
complete -c btvep -n "__fish_btvep_using_subcommand start" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand start" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand start" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand start" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand start" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand metagraph" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand metagraph" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand metagraph" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand metagraph" -l json -d 'Print JSON (the metagraph file format)'
complete -c btvep -n "__fish_btvep_using_subcommand metagraph" -l serving -d 'Only neurons that serve an axon'
complete -c btvep -n "__fish_btvep_using_subcommand metagraph" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand metagraph" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l openai.suffix -d 'Text appended to every completion' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l openai.max_tokens -d 'The maximum number of tokens to generate in the completion' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l openai.temperature -d 'Sampling temperature to use, between 0 and 2' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l openai.top_p -d 'Nucleus sampling parameter, top_p probability mass' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l openai.n -d 'How many completions to generate for each prompt (the first one is returned)' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l openai.presence_penalty -d 'Penalty for tokens based on their presence in the text so far' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l openai.frequency_penalty -d 'Penalty for tokens based on their frequency in the text so far' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l openai.model_name -d 'OpenAI model to use for completion' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l openai.base_url -d 'Base URL of the OpenAI-compatible API (OpenAI, vLLM, llama.cpp server, Ollama …); the API key comes from OPENAI_API_KEY (optional when the URL is on this machine)' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l axon.port -d 'Port the axon listens on (0 = any free port; the address is printed)' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l axon.ip -d 'Address the axon listens on (127.0.0.1 for local only)' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l netuid -d 'Subnet whose metagraph decides who may call [default: config netuid]' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l subtensor.network -d 'Subtensor network for the metagraph: finney, test, local, or a ws:// / wss:// URL [default: config subtensor_network]' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l metagraph-file -d 'Read the metagraph from this JSON file instead of a subtensor node [default: config metagraph_file]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l wallet.name -d 'Wallet name holding the miner hotkey' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l wallet.hotkey -d 'Hotkey name inside the wallet' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l wallet.path -d 'Directory holding wallets [default: config wallet_path]' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l mnemonic-env -d 'Environment variable holding the miner hotkey mnemonic (used when --wallet.name is not given)' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l miner.blacklist.whitelist -d 'Hotkeys always allowed to call' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l miner.blacklist.blacklist -d 'Hotkeys never allowed to call' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l miner.blacklist.minimum_stake_requirement -d 'Minimum caller stake in TAO' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l miner.max_concurrency -d 'Model calls in flight at most; further callers wait, higher stake first' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l protocol -d 'Protocol to serve: synapse (POST /Prompting, bittensor 6–10), btauth (OpenAI POST /v1/chat/completions signed with bittensor 11\'s btauth/1) or epistula (the same API signed with Epistula v2)' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l builtin -d 'Answer with the built-in responder (labelled, not a language model) instead of calling a model server'
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l miner.blacklist.allow_non_registered -d 'Allow callers that are not registered on the subnet'
complete -c btvep -n "__fish_btvep_using_subcommand miner" -l miner.blacklist.force_validator_permit -d 'Only allow callers holding a validator permit'
complete -c btvep -n "__fish_btvep_using_subcommand miner" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand miner" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand miners" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand miners" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand miners" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand miners" -l json -d 'Print JSON (every field, full hotkeys)'
complete -c btvep -n "__fish_btvep_using_subcommand miners" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand miners" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand backup" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand backup" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand backup" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand backup" -l with-logs -d 'Include the request log (prompts and answers); without it only keys, balances, counters and miner health'
complete -c btvep -n "__fish_btvep_using_subcommand backup" -l json -d 'Print the summary as JSON'
complete -c btvep -n "__fish_btvep_using_subcommand backup" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand backup" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand restore" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand restore" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand restore" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand restore" -l force -d 'Restore into a data dir that already holds keys or logs (they are replaced)'
complete -c btvep -n "__fish_btvep_using_subcommand restore" -l json -d 'Print the summary as JSON'
complete -c btvep -n "__fish_btvep_using_subcommand restore" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand restore" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand completions" -l config -d 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir\'s btvep/config.json]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand completions" -l data-dir -d 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]' -r -F
complete -c btvep -n "__fish_btvep_using_subcommand completions" -l set -d 'Override a config value for this invocation (highest precedence); repeatable' -r
complete -c btvep -n "__fish_btvep_using_subcommand completions" -s h -l help -d 'Print help'
complete -c btvep -n "__fish_btvep_using_subcommand completions" -s V -l version -d 'Print version'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "config" -d 'Show or change configuration (config.json)'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "key" -d 'Create, list, edit and delete API keys'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "ratelimit" -d 'Show and change rate limits (global or per key)'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "logs" -d 'Show the request log'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "import" -d 'Import a Python btvep database (keys, credits, history) and config'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "start" -d 'Run the API server'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "metagraph" -d 'Show the subnet\'s miners (uid, hotkey, axon, incentive, stake)'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "miner" -d 'Run a Prompting miner (axon) backed by an OpenAI-compatible model server'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "miners" -d 'Show the gateway\'s view of every miner it asked: state, success rate, latency, last failure'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "backup" -d 'Write a consistent backup of keys, balances, counters and miner health (and optionally the log) to a file'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "restore" -d 'Load a backup into an empty data dir (the server must be stopped)'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c btvep -n "__fish_btvep_using_subcommand help; and not __fish_seen_subcommand_from config key ratelimit logs import start metagraph miner miners backup restore completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "get" -d 'Print one value'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "set" -d 'Set a value in the config file (type-checked and validated)'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "unset" -d 'Remove a value from the config file (back to its default)'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "path" -d 'Print the config file\'s path'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "create" -d 'Create a key; the full key is printed this once and never again'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "list" -d 'List keys'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "show" -d 'Show one key'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "delete" -d 'Delete a key'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "edit" -d 'Edit a key'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from ratelimit" -f -a "show" -d 'Show the limits in force (global, or a key\'s)'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from ratelimit" -f -a "add" -d 'Add a window: at most TIMES requests per SECONDS'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from ratelimit" -f -a "delete" -d 'Delete the window at INDEX (as shown by `ratelimit show`)'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from ratelimit" -f -a "clear" -d 'Remove a key\'s own limits so the global ones apply again'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from ratelimit" -f -a "enable" -d 'Turn rate limiting on'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from ratelimit" -f -a "disable" -d 'Turn rate limiting off'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from ratelimit" -f -a "status" -d 'Say whether rate limiting is on and which global limits apply'
complete -c btvep -n "__fish_btvep_using_subcommand help; and __fish_seen_subcommand_from logs" -f -a "prune" -d 'Remove old records now (through the running server when it runs); the server also prunes by itself per `log_retention_days` and `log_max_mb`'
