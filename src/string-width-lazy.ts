/*!
 * string-width as the command's bundle has it (esbuild's `--alias:string-width`, for yargs, cliui
 * and wrap-ansi alike): the package itself, loaded when a width is first asked. It makes an
 * `Intl.Segmenter` and Unicode property expressions as it loads, about 30 ms and 3 MB of ICU's
 * data at every start, for widths only help and usage text ask for. Not part of the library.
 */
type Width = (text: string, options?: object) => number;

let width: Width | undefined;

export default function stringWidth(text: string, options?: object): number {
  // A require, not an import: the bundle loads the package here, at the first call, not with the command.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  width ??= (require('string-width-real') as { default: Width }).default;
  return width(text, options);
}
