//! Embeds the core in a service: a path table in, credit per channel out, no polars and no Python.
//!
//! Reads `examples/data/paths.csv` (ChannelAttribution's layout: path, total_conversions,
//! total_conversion_value, total_null) with the standard library, runs three models and prints the
//! comparison table and each model's credit as JSON lines, as a service would log or return them.
//!
//! Run: `cargo run --release --example embed_core` (or `make test`, which runs every example).
use std::error::Error;

use touchpoint::core::{attribute, Dimension, JourneysBuilder, ModelSpec, Weights};

fn main() -> Result<(), Box<dyn Error>> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/paths.csv");
    let text = std::fs::read_to_string(file)?;
    let mut builder = JourneysBuilder::new(&[]);
    for (i, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let [path, conversions, value, nulls] = fields[..] else {
            return Err(format!("{file}, line {}: expected 4 fields, got {}", i + 1, fields.len()).into());
        };
        let channels: Vec<&str> = path.split('>').map(str::trim).collect();
        let weights =
            Weights { conversions: conversions.parse()?, value: value.parse()?, nulls: nulls.parse()? };
        // Errors name the row (1-based, header included) and what is wrong with it.
        builder.push_path(i + 1, "sales", &channels, weights)?;
    }
    let journeys = builder.build();
    let models = [
        ModelSpec::from_name("last_touch")?,
        ModelSpec::from_name("linear")?,
        ModelSpec::from_json(r#"{"model":"markov","order":1}"#)?,
    ];
    let result = attribute(&journeys, &models, Dimension::Channel)?;
    print!("{}", result.comparison_table());
    // Every conversion is credited: the credit of each model sums to the table's conversions.
    let total: f64 = journeys.conversions().iter().sum();
    for model in ["last_touch", "linear", "markov"] {
        let credited: f64 = result.credits.iter().filter(|c| c.model == model).map(|c| c.conversions).sum();
        assert!((credited - total).abs() <= 1e-9 * total, "{model}: {credited} of {total}");
    }
    for c in result.credits.iter().filter(|c| c.model == "markov") {
        println!(
            "{}",
            serde_json::json!({"channel": c.player, "conversions": c.conversions, "value": c.value})
        );
    }
    Ok(())
}
