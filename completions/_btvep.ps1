
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'btvep' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'btvep'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'btvep' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Show or change configuration (config.json)')
            [CompletionResult]::new('key', 'key', [CompletionResultType]::ParameterValue, 'Create, list, edit and delete API keys')
            [CompletionResult]::new('ratelimit', 'ratelimit', [CompletionResultType]::ParameterValue, 'Show and change rate limits (global or per key)')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Show the request log')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import a Python btvep database (keys, credits, history) and config')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Run the API server')
            [CompletionResult]::new('metagraph', 'metagraph', [CompletionResultType]::ParameterValue, 'Show the subnet''s miners (uid, hotkey, axon, incentive, stake)')
            [CompletionResult]::new('miner', 'miner', [CompletionResultType]::ParameterValue, 'Run a Prompting miner (axon) backed by an OpenAI-compatible model server')
            [CompletionResult]::new('miners', 'miners', [CompletionResultType]::ParameterValue, 'Show the gateway''s view of every miner it asked: state, success rate, latency, last failure')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Write a consistent backup of keys, balances, counters and miner health (and optionally the log) to a file')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Load a backup into an empty data dir (the server must be stopped)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'btvep;config' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('--reveal', '--reveal', [CompletionResultType]::ParameterName, 'Show secrets (mnemonic, API keys) instead of ********')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print one value')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set a value in the config file (type-checked and validated)')
            [CompletionResult]::new('unset', 'unset', [CompletionResultType]::ParameterValue, 'Remove a value from the config file (back to its default)')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Print the config file''s path')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'btvep;config;get' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('--reveal', '--reveal', [CompletionResultType]::ParameterName, 'Show the value even if it is a secret')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;config;set' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;config;unset' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;config;path' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;config;help' {
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print one value')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set a value in the config file (type-checked and validated)')
            [CompletionResult]::new('unset', 'unset', [CompletionResultType]::ParameterValue, 'Remove a value from the config file (back to its default)')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Print the config file''s path')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'btvep;config;help;get' {
            break
        }
        'btvep;config;help;set' {
            break
        }
        'btvep;config;help;unset' {
            break
        }
        'btvep;config;help;path' {
            break
        }
        'btvep;config;help;help' {
            break
        }
        'btvep;key' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a key; the full key is printed this once and never again')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List keys')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one key')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a key')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Edit a key')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'btvep;key;create' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'A name for the key')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'A name for the key')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Expiry: -1/false (never), a unix timestamp, 2025-01-01, ''tomorrow'', ''next week'', ''in 10 days'', ''in 1 month'', ''next year'', ''December 2025'' (UTC, relative to today''s midnight)')
            [CompletionResult]::new('--valid-until', '--valid-until', [CompletionResultType]::ParameterName, 'Expiry: -1/false (never), a unix timestamp, 2025-01-01, ''tomorrow'', ''next week'', ''in 10 days'', ''in 1 month'', ''next year'', ''December 2025'' (UTC, relative to today''s midnight)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Credits; each successful miner answer costs one; -1 = unlimited')
            [CompletionResult]::new('--credits', '--credits', [CompletionResultType]::ParameterName, 'Credits; each successful miner answer costs one; -1 = unlimited')
            [CompletionResult]::new('--default-query-strategy', '--default-query-strategy', [CompletionResultType]::ParameterName, 'The key''s default query strategy: top_n:N, best:N or uids:A,B')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Create the key enabled (the default)')
            [CompletionResult]::new('--enable', '--enable', [CompletionResultType]::ParameterName, 'Create the key enabled (the default)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Create the key disabled')
            [CompletionResult]::new('--disable', '--disable', [CompletionResultType]::ParameterName, 'Create the key disabled')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (includes api_key)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the new key')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the new key')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;key;list' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON array')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;key;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;key;delete' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the deleted key as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;key;edit' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'New name ('''' clears it)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'New name ('''' clears it)')
            [CompletionResult]::new('--request-count', '--request-count', [CompletionResultType]::ParameterName, 'Set the request count')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Set the credits (-1 = unlimited)')
            [CompletionResult]::new('--credits', '--credits', [CompletionResultType]::ParameterName, 'Set the credits (-1 = unlimited)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'New expiry (same forms as `key create`)')
            [CompletionResult]::new('--valid-until', '--valid-until', [CompletionResultType]::ParameterName, 'New expiry (same forms as `key create`)')
            [CompletionResult]::new('--default-query-strategy', '--default-query-strategy', [CompletionResultType]::ParameterName, 'top_n:N, best:N, uids:A,B, or none to use the server''s default')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Enable the key')
            [CompletionResult]::new('--enable', '--enable', [CompletionResultType]::ParameterName, 'Enable the key')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Disable the key')
            [CompletionResult]::new('--disable', '--disable', [CompletionResultType]::ParameterName, 'Disable the key')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;key;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a key; the full key is printed this once and never again')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List keys')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one key')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a key')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Edit a key')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'btvep;key;help;create' {
            break
        }
        'btvep;key;help;list' {
            break
        }
        'btvep;key;help;show' {
            break
        }
        'btvep;key;help;delete' {
            break
        }
        'btvep;key;help;edit' {
            break
        }
        'btvep;key;help;help' {
            break
        }
        'btvep;ratelimit' {
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'With no action: show this key''s limits (id or full key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'With no action: show this key''s limits (id or full key)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the limits in force (global, or a key''s)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a window: at most TIMES requests per SECONDS')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete the window at INDEX (as shown by `ratelimit show`)')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove a key''s own limits so the global ones apply again')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Turn rate limiting on')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Turn rate limiting off')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Say whether rate limiting is on and which global limits apply')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'btvep;ratelimit;show' {
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'A key''s limits (id or full key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'A key''s limits (id or full key)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;ratelimit;add' {
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Add to this key''s own limits instead of the global ones')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Add to this key''s own limits instead of the global ones')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;ratelimit;delete' {
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Delete from this key''s own limits')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Delete from this key''s own limits')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;ratelimit;clear' {
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'The key (id or full key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The key (id or full key)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;ratelimit;enable' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;ratelimit;disable' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;ratelimit;status' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;ratelimit;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the limits in force (global, or a key''s)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a window: at most TIMES requests per SECONDS')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete the window at INDEX (as shown by `ratelimit show`)')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove a key''s own limits so the global ones apply again')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Turn rate limiting on')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Turn rate limiting off')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Say whether rate limiting is on and which global limits apply')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'btvep;ratelimit;help;show' {
            break
        }
        'btvep;ratelimit;help;add' {
            break
        }
        'btvep;ratelimit;help;delete' {
            break
        }
        'btvep;ratelimit;help;clear' {
            break
        }
        'btvep;ratelimit;help;enable' {
            break
        }
        'btvep;ratelimit;help;disable' {
            break
        }
        'btvep;ratelimit;help;status' {
            break
        }
        'btvep;ratelimit;help;help' {
            break
        }
        'btvep;logs' {
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Only requests made with this key (id or full key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Only requests made with this key (id or full key)')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Only answers from this miner hotkey')
            [CompletionResult]::new('--responder-hotkey', '--responder-hotkey', [CompletionResultType]::ParameterName, 'Only answers from this miner hotkey')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'From this time (UTC): %Y-%m-%d, %Y-%m-%dT%H:%M:%S or ''%Y-%m-%d %H:%M:%S''')
            [CompletionResult]::new('--start', '--start', [CompletionResultType]::ParameterName, 'From this time (UTC): %Y-%m-%d, %Y-%m-%dT%H:%M:%S or ''%Y-%m-%d %H:%M:%S''')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Until this time (UTC), same formats; a bare date means the whole day')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'Until this time (UTC), same formats; a bare date means the whole day')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'How many records (newest first)')
            [CompletionResult]::new('--lines', '--lines', [CompletionResultType]::ParameterName, 'How many records (newest first)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object per line')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new records as they arrive (Ctrl-C to stop)')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new records as they arrive (Ctrl-C to stop)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove old records now (through the running server when it runs); the server also prunes by itself per `log_retention_days` and `log_max_mb`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'btvep;logs;prune' {
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Remove records older than this: 7d, 12h, 30m (default: log_retention_days)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Say how many records would go, remove nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the summary as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;logs;help' {
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove old records now (through the running server when it runs); the server also prunes by itself per `log_retention_days` and `log_max_mb`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'btvep;logs;help;prune' {
            break
        }
        'btvep;logs;help;help' {
            break
        }
        'btvep;import' {
            [CompletionResult]::new('--python-config', '--python-config', [CompletionResultType]::ParameterName, 'Also take the Python btvep config.json: the settings both share are written to btvep''s config')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print what would be imported and change nothing')
            [CompletionResult]::new('--update', '--update', [CompletionResultType]::ParameterName, 'Overwrite keys that are already present (same key) with the Python values instead of skipping them')
            [CompletionResult]::new('--skip-bad-rows', '--skip-bad-rows', [CompletionResultType]::ParameterName, 'Import the good rows when some rows have impossible values (they are listed), instead of nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the summary as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;start' {
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Address to listen on [config: host, default 0.0.0.0]')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Port to listen on (0 picks a free one) [config: port, default 8000]')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on (0 picks a free one) [config: port, default 8000]')
            [CompletionResult]::new('--devnet', '--devnet', [CompletionResultType]::ParameterName, 'Also run a local subnet of N miners (throwaway hotkeys, loopback ports, real signed protocol), create or reuse an API key for it and print a ready-to-run curl line. Listens on 127.0.0.1 unless --host is given; a throwaway validator hotkey is used if none is configured')
            [CompletionResult]::new('--devnet-model-url', '--devnet-model-url', [CompletionResultType]::ParameterName, 'Devnet miners answer through this OpenAI-compatible server (e.g. http://127.0.0.1:11434/v1 for Ollama; key from OPENAI_API_KEY) instead of the built-in responder')
            [CompletionResult]::new('--devnet-model', '--devnet-model', [CompletionResultType]::ParameterName, 'Model name for --devnet-model-url')
            [CompletionResult]::new('--devnet-protocol', '--devnet-protocol', [CompletionResultType]::ParameterName, 'Protocol the devnet miners (and so the gateway, as miner_protocol) speak: synapse, btauth or epistula')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;metagraph' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (the metagraph file format)')
            [CompletionResult]::new('--serving', '--serving', [CompletionResultType]::ParameterName, 'Only neurons that serve an axon')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;miner' {
            [CompletionResult]::new('--openai.suffix', '--openai.suffix', [CompletionResultType]::ParameterName, 'Text appended to every completion')
            [CompletionResult]::new('--openai.max_tokens', '--openai.max_tokens', [CompletionResultType]::ParameterName, 'The maximum number of tokens to generate in the completion')
            [CompletionResult]::new('--openai.temperature', '--openai.temperature', [CompletionResultType]::ParameterName, 'Sampling temperature to use, between 0 and 2')
            [CompletionResult]::new('--openai.top_p', '--openai.top_p', [CompletionResultType]::ParameterName, 'Nucleus sampling parameter, top_p probability mass')
            [CompletionResult]::new('--openai.n', '--openai.n', [CompletionResultType]::ParameterName, 'How many completions to generate for each prompt (the first one is returned)')
            [CompletionResult]::new('--openai.presence_penalty', '--openai.presence_penalty', [CompletionResultType]::ParameterName, 'Penalty for tokens based on their presence in the text so far')
            [CompletionResult]::new('--openai.frequency_penalty', '--openai.frequency_penalty', [CompletionResultType]::ParameterName, 'Penalty for tokens based on their frequency in the text so far')
            [CompletionResult]::new('--openai.model_name', '--openai.model_name', [CompletionResultType]::ParameterName, 'OpenAI model to use for completion')
            [CompletionResult]::new('--openai.base_url', '--openai.base_url', [CompletionResultType]::ParameterName, 'Base URL of the OpenAI-compatible API (OpenAI, vLLM, llama.cpp server, Ollama …); the API key comes from OPENAI_API_KEY (optional when the URL is on this machine)')
            [CompletionResult]::new('--axon.port', '--axon.port', [CompletionResultType]::ParameterName, 'Port the axon listens on (0 = any free port; the address is printed)')
            [CompletionResult]::new('--axon.ip', '--axon.ip', [CompletionResultType]::ParameterName, 'Address the axon listens on (127.0.0.1 for local only)')
            [CompletionResult]::new('--netuid', '--netuid', [CompletionResultType]::ParameterName, 'Subnet whose metagraph decides who may call [default: config netuid]')
            [CompletionResult]::new('--subtensor.network', '--subtensor.network', [CompletionResultType]::ParameterName, 'Subtensor network for the metagraph: finney, test, local, or a ws:// / wss:// URL [default: config subtensor_network]')
            [CompletionResult]::new('--metagraph-file', '--metagraph-file', [CompletionResultType]::ParameterName, 'Read the metagraph from this JSON file instead of a subtensor node [default: config metagraph_file]')
            [CompletionResult]::new('--wallet.name', '--wallet.name', [CompletionResultType]::ParameterName, 'Wallet name holding the miner hotkey')
            [CompletionResult]::new('--wallet.hotkey', '--wallet.hotkey', [CompletionResultType]::ParameterName, 'Hotkey name inside the wallet')
            [CompletionResult]::new('--wallet.path', '--wallet.path', [CompletionResultType]::ParameterName, 'Directory holding wallets [default: config wallet_path]')
            [CompletionResult]::new('--mnemonic-env', '--mnemonic-env', [CompletionResultType]::ParameterName, 'Environment variable holding the miner hotkey mnemonic (used when --wallet.name is not given)')
            [CompletionResult]::new('--miner.blacklist.whitelist', '--miner.blacklist.whitelist', [CompletionResultType]::ParameterName, 'Hotkeys always allowed to call')
            [CompletionResult]::new('--miner.blacklist.blacklist', '--miner.blacklist.blacklist', [CompletionResultType]::ParameterName, 'Hotkeys never allowed to call')
            [CompletionResult]::new('--miner.blacklist.minimum_stake_requirement', '--miner.blacklist.minimum_stake_requirement', [CompletionResultType]::ParameterName, 'Minimum caller stake in TAO')
            [CompletionResult]::new('--miner.max_concurrency', '--miner.max_concurrency', [CompletionResultType]::ParameterName, 'Model calls in flight at most; further callers wait, higher stake first')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'Protocol to serve: synapse (POST /Prompting, bittensor 6–10), btauth (OpenAI POST /v1/chat/completions signed with bittensor 11''s btauth/1) or epistula (the same API signed with Epistula v2)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--builtin', '--builtin', [CompletionResultType]::ParameterName, 'Answer with the built-in responder (labelled, not a language model) instead of calling a model server')
            [CompletionResult]::new('--miner.blacklist.allow_non_registered', '--miner.blacklist.allow_non_registered', [CompletionResultType]::ParameterName, 'Allow callers that are not registered on the subnet')
            [CompletionResult]::new('--miner.blacklist.force_validator_permit', '--miner.blacklist.force_validator_permit', [CompletionResultType]::ParameterName, 'Only allow callers holding a validator permit')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;miners' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (every field, full hotkeys)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;backup' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--with-logs', '--with-logs', [CompletionResultType]::ParameterName, 'Include the request log (prompts and answers); without it only keys, balances, counters and miner health')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the summary as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;restore' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Restore into a data dir that already holds keys or logs (they are replaced)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the summary as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;completions' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to use [env: BTVEP_CONFIG] [default: the platform config dir''s btvep/config.json]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory holding the database [env: BTVEP_DATA_DIR] [default: the platform data dir]')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Override a config value for this invocation (highest precedence); repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'btvep;help' {
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Show or change configuration (config.json)')
            [CompletionResult]::new('key', 'key', [CompletionResultType]::ParameterValue, 'Create, list, edit and delete API keys')
            [CompletionResult]::new('ratelimit', 'ratelimit', [CompletionResultType]::ParameterValue, 'Show and change rate limits (global or per key)')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Show the request log')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import a Python btvep database (keys, credits, history) and config')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Run the API server')
            [CompletionResult]::new('metagraph', 'metagraph', [CompletionResultType]::ParameterValue, 'Show the subnet''s miners (uid, hotkey, axon, incentive, stake)')
            [CompletionResult]::new('miner', 'miner', [CompletionResultType]::ParameterValue, 'Run a Prompting miner (axon) backed by an OpenAI-compatible model server')
            [CompletionResult]::new('miners', 'miners', [CompletionResultType]::ParameterValue, 'Show the gateway''s view of every miner it asked: state, success rate, latency, last failure')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Write a consistent backup of keys, balances, counters and miner health (and optionally the log) to a file')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Load a backup into an empty data dir (the server must be stopped)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'btvep;help;config' {
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print one value')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set a value in the config file (type-checked and validated)')
            [CompletionResult]::new('unset', 'unset', [CompletionResultType]::ParameterValue, 'Remove a value from the config file (back to its default)')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Print the config file''s path')
            break
        }
        'btvep;help;config;get' {
            break
        }
        'btvep;help;config;set' {
            break
        }
        'btvep;help;config;unset' {
            break
        }
        'btvep;help;config;path' {
            break
        }
        'btvep;help;key' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a key; the full key is printed this once and never again')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List keys')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one key')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a key')
            [CompletionResult]::new('edit', 'edit', [CompletionResultType]::ParameterValue, 'Edit a key')
            break
        }
        'btvep;help;key;create' {
            break
        }
        'btvep;help;key;list' {
            break
        }
        'btvep;help;key;show' {
            break
        }
        'btvep;help;key;delete' {
            break
        }
        'btvep;help;key;edit' {
            break
        }
        'btvep;help;ratelimit' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the limits in force (global, or a key''s)')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a window: at most TIMES requests per SECONDS')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete the window at INDEX (as shown by `ratelimit show`)')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Remove a key''s own limits so the global ones apply again')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Turn rate limiting on')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Turn rate limiting off')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Say whether rate limiting is on and which global limits apply')
            break
        }
        'btvep;help;ratelimit;show' {
            break
        }
        'btvep;help;ratelimit;add' {
            break
        }
        'btvep;help;ratelimit;delete' {
            break
        }
        'btvep;help;ratelimit;clear' {
            break
        }
        'btvep;help;ratelimit;enable' {
            break
        }
        'btvep;help;ratelimit;disable' {
            break
        }
        'btvep;help;ratelimit;status' {
            break
        }
        'btvep;help;logs' {
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove old records now (through the running server when it runs); the server also prunes by itself per `log_retention_days` and `log_max_mb`')
            break
        }
        'btvep;help;logs;prune' {
            break
        }
        'btvep;help;import' {
            break
        }
        'btvep;help;start' {
            break
        }
        'btvep;help;metagraph' {
            break
        }
        'btvep;help;miner' {
            break
        }
        'btvep;help;miners' {
            break
        }
        'btvep;help;backup' {
            break
        }
        'btvep;help;restore' {
            break
        }
        'btvep;help;completions' {
            break
        }
        'btvep;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
