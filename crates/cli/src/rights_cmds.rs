//! `custos deadline`: the due date of a data-subject request, so anyone can check the arithmetic.

use std::process::ExitCode;

use crate::failure::Failure;
use clap::ValueEnum;
use custos_rights::{Calendar, NlCalendar, WeekendsOnly, due_date};
use jiff::civil::Date;

#[derive(Clone, Copy, ValueEnum)]
pub enum CalendarArg {
    /// The Dutch Algemene termijnenwet.
    Nl,
    /// Saturdays and Sundays only.
    None,
}

#[derive(clap::Args)]
pub struct DeadlineArgs {
    /// The day the request was received (YYYY-MM-DD).
    pub received: String,
    /// With the two-month extension of Art. 12(3) GDPR.
    #[arg(long)]
    pub extended: bool,
    /// Public-holiday calendar.
    #[arg(long, value_enum, default_value = "nl")]
    pub calendar: CalendarArg,
    /// A day equated to a public holiday by decree (Atw art. 3(3)); repeat for several.
    #[arg(long = "equated", value_name = "YYYY-MM-DD")]
    pub equated: Vec<String>,
    /// Also explain how the date was reached.
    #[arg(long)]
    pub explain: bool,
}

fn parse(what: &str, s: &str) -> Result<Date, String> {
    s.parse::<Date>()
        .map_err(|_| format!("{what} `{s}` is not a date; write it as YYYY-MM-DD"))
}

/// The Dutch calendar with the days given by `--equated` (Atw art. 3(3)).
pub(crate) fn equated_calendar(equated: &[String]) -> Result<NlCalendar, String> {
    let days = equated
        .iter()
        .map(|d| parse("--equated", d))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NlCalendar::with_equated(days))
}

pub fn deadline(args: DeadlineArgs) -> ExitCode {
    let run = || -> Result<String, String> {
        let received = parse("received", &args.received)?;
        let nl = equated_calendar(&args.equated)?;
        let cal: Box<dyn Calendar> = match args.calendar {
            CalendarArg::Nl => Box::new(nl),
            CalendarArg::None => Box::new(WeekendsOnly),
        };
        let d = due_date(received, args.extended, cal.as_ref())
            .ok_or_else(|| format!("{received}: beyond the calendar"))?;
        Ok(if args.explain {
            let months = if args.extended { 3 } else { 1 };
            format!(
                "{}\nreceived {} (not counted, Reg. 1182/71 art. 3(1)); + {months} month(s) = {} (art. 3(2)(c)); next working day = {} (art. 3(4))",
                d.due, d.received, d.nominal, d.due
            )
        } else {
            d.due.to_string()
        })
    };
    match run() {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => Failure::unusable(e.to_string()).stop(),
    }
}
