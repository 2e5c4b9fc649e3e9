// Opens the tour in a live Jupyter server with headless Chromium, runs its
// cells up to the bits slider, moves the slider from 2 to 6 bits and checks
// that the plot is redrawn for 6 bits; saves a screenshot before and after.
//
// Usage: node tour.mjs URL OUTDIR   (URL: the tour's page, token included)
import { chromium } from "playwright-core";

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error("usage: node tour.mjs URL OUTDIR");
  process.exit(2);
}
const say = (m) => console.log(`browser-test: ${m}`);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on("pageerror", (e) => say(`page error: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(
    () => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected(),
    null, { timeout: 120_000 });
  // Never save the executed notebook over the committed one.
  await page.evaluate(() => Jupyter.notebook.set_autosave_interval(0));
  say("notebook open, kernel connected, autosave off");
  // The cells up to the slider (the setup cell, the imports and helpers, the
  // transfer functions), in order.
  const sliderCell = await page.evaluate(() => {
    const cells = Jupyter.notebook.get_cells();
    const i = cells.findIndex((c) => c.cell_type === "code" && c.get_text().includes("notebook.Slider("));
    if (i >= 0) Jupyter.notebook.execute_cell_range(0, i + 1);
    return i;
  });
  if (sliderCell < 0) throw new Error("no notebook.Slider cell in the tour");
  say(`running cells 0..${sliderCell} (the first build of a cell takes minutes)`);
  const slider = page.locator("input[type=range]").first();
  await slider.waitFor({ state: "visible", timeout: 600_000 });
  // The plot is a display that the slider's listener updates in the
  // cell's output area (gonbui.UpdateHTML), next to the slider.
  const output = () => page.evaluate((i) => Jupyter.notebook.get_cell(i).output_area.element[0].innerHTML, sliderCell);
  const plotFor = (bits) => page.waitForFunction(({ i, bits }) => {
    const h = Jupyter.notebook.get_cell(i).output_area.element[0].innerHTML;
    return h.includes("<svg") && h.includes(`DoReFa activation, ${bits} bits`);
  }, { i: sliderCell, bits }, { timeout: 120_000 });
  await plotFor(2);
  await slider.scrollIntoViewIfNeeded();
  const before = await output();
  await page.screenshot({ path: `${outDir}/tour-slider-2bits.png`, fullPage: false });
  say("slider shown with the 2-bit plot; moving it to 6");
  await slider.fill("6"); // sets the value and fires input and change, as a drag would
  await plotFor(6);
  const after = await output();
  if (after === before || after.includes("DoReFa activation, 2 bits")) throw new Error("the plot was not replaced");
  const label = await page.locator("[id^=mlsysrep-slider-value-]").first().innerText();
  if (label.trim() !== "6") throw new Error(`the value label reads ${label}, not 6`);
  await page.screenshot({ path: `${outDir}/tour-slider-6bits.png`, fullPage: false });
  say(`ok: the plot was redrawn for 6 bits (${before.length} -> ${after.length} characters of SVG); screenshots in ${outDir}`);
} finally {
  await browser.close();
}
