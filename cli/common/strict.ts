import type { Command } from 'commander';

/** Commander's members used here that its typings leave out (commander is pinned by the lockfile). */
interface CommanderInternals {
  _checkForMissingMandatoryOptions(): void;
  unknownOption(flag: string): never;
}

/**
 * Each subcommand's errors in a user's words: a mistyped flag is named first (commander checks
 * required options before unknown ones, so `run --rn x` said only that --run was missing; no
 * command takes operands, so any leftover "-..." is a typo), and the help line names the command.
 */
export function strictSubcommands(program: Command): void {
  for (const cmd of program.commands) {
    cmd.showHelpAfterError(`(imgtag ${cmd.name()} --help shows its options)`);
    const c = cmd as unknown as CommanderInternals;
    const missing = c._checkForMissingMandatoryOptions.bind(cmd);
    c._checkForMissingMandatoryOptions = () => {
      const typo = cmd.args.find((a) => a.startsWith('-') && a !== '-');
      if (typo !== undefined) c.unknownOption(typo);
      missing();
    };
  }
}
