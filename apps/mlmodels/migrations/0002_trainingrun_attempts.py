from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mlmodels", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="trainingrun",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
    ]
