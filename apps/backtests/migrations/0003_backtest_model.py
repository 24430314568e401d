import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("backtests", "0002_backtest_attempts"),
        ("mlmodels", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="backtest",
            name="model",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="backtests",
                to="mlmodels.mlmodel",
            ),
        ),
    ]
