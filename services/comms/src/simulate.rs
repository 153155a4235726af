//! `comms simulate-dialer`: a shift of agents on a virtual clock, dialed by the real pacer in
//! progressive and predictive modes, averaged over several seeds and printed side by side.

use comms_campaigns::domain::pacing::DialingMode;
use comms_campaigns::simulation::{self, Report, Shift};

#[derive(Debug, clap::Args)]
pub struct Options {
    #[arg(long, default_value_t = 20)]
    agents: u32,
    /// The chance a call is answered by a person, 0–1.
    #[arg(long, default_value_t = 0.3)]
    answer_rate: f64,
    /// Mean handle time (talk and wrap-up), in seconds.
    #[arg(long, default_value_t = 180.0)]
    handle_seconds: f64,
    /// Length of the shift, in hours.
    #[arg(long, default_value_t = 8.0)]
    hours: f64,
    /// The abandon-rate cap, 0–1 (0.03 is the US rule).
    #[arg(long, default_value_t = 0.03)]
    abandon_cap: f64,
    /// How many shifts (seeds 1..=N) to run per mode; figures are their mean, peaks their max.
    #[arg(long, default_value_t = 10)]
    shifts: u64,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

pub fn run(options: &Options) -> anyhow::Result<()> {
    anyhow::ensure!(options.agents > 0, "--agents: at least one agent");
    anyhow::ensure!(
        (0.0..=1.0).contains(&options.answer_rate) && options.answer_rate > 0.0,
        "--answer-rate: a probability above 0, at most 1"
    );
    anyhow::ensure!(
        options.handle_seconds >= 1.0,
        "--handle-seconds: at least 1"
    );
    anyhow::ensure!(
        options.hours > 0.0 && options.hours <= 24.0,
        "--hours: above 0, at most 24"
    );
    anyhow::ensure!(
        options.abandon_cap > 0.0 && options.abandon_cap < 1.0,
        "--abandon-cap: between 0 and 1, e.g. 0.03"
    );
    anyhow::ensure!(options.shifts > 0, "--shifts: at least one");
    println!(
        "{} agents, {:.0}% answered, {:.0} s handle time, {} h shifts × {}, abandon cap {:.1}%\n",
        options.agents,
        options.answer_rate * 100.0,
        options.handle_seconds,
        options.hours,
        options.shifts,
        options.abandon_cap * 100.0
    );
    println!(
        "{:>12} | {:>9} | {:>13} | {:>17} | {:>24}",
        "mode", "occupancy", "abandon rate", "peak abandon rate", "connected per agent-hour"
    );
    let mut figures = Vec::new();
    for mode in [DialingMode::Progressive, DialingMode::Predictive] {
        let reports: Vec<Report> = (1..=options.shifts)
            .map(|seed| {
                let shift = Shift {
                    agents: options.agents,
                    answer_rate: options.answer_rate,
                    mean_handle_seconds: options.handle_seconds,
                    hours: options.hours,
                    abandon_cap: options.abandon_cap,
                    seed,
                };
                simulation::run(&shift, mode)
            })
            .collect();
        let mean =
            |f: fn(&Report) -> f64| reports.iter().map(f).sum::<f64>() / reports.len() as f64;
        let (occupancy, abandon_rate, per_hour) = (
            mean(|r| r.occupancy),
            mean(|r| r.abandon_rate),
            mean(|r| r.connected_per_agent_hour),
        );
        let peak = reports
            .iter()
            .map(|r| r.peak_abandon_rate)
            .fold(0.0, f64::max);
        println!(
            "{:>12} | {:>8.1}% | {:>12.2}% | {:>16.2}% | {:>24.1}",
            mode.as_str(),
            occupancy * 100.0,
            abandon_rate * 100.0,
            peak * 100.0,
            per_hour
        );
        figures.push(serde_json::json!({
            "mode": mode.as_str(),
            "occupancy": occupancy,
            "abandon_rate": abandon_rate,
            "peak_abandon_rate": peak,
            "connected_per_agent_hour": per_hour,
            "shifts": reports,
        }));
    }
    println!(
        "\npeak abandon rate: the highest campaign-to-date rate at any minute after 100 answers"
    );
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
        println!("figures written to {}", path.display());
    }
    Ok(())
}
